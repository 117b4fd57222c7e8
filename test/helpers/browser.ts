import type { Test } from 'tap'
import puppeteer, { type Page } from 'puppeteer-core'
import { requireBinary } from './binaries.js'

/** Where Debian's `chromium` package puts the browser (.ci/run installs it). */
export const CHROMIUM = '/usr/bin/chromium'

/**
 * The browser's path, or `null` after a skip (locally) or a failure (CI=true)
 * when it is not installed: call it at the top of a test file.
 */
export function requireChromium (t: Test): string | null {
  return requireBinary(t, CHROMIUM, 'Debian package chromium: apt-get install chromium')
}

/** An open page and the way to shut its browser down. */
export interface OpenPage {
  page: Page
  close: () => Promise<void>
}

/**
 * Launch headless Chromium and open `url` (resolves once it has loaded).
 * Root cannot run Chromium's sandbox, so it is turned off there; no test page
 * is untrusted.
 */
export async function openPage (url: string, opts: { timeout?: number } = {}): Promise<OpenPage> {
  const timeout = opts.timeout ?? 10_000
  const args = ['--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--no-default-browser-check']
  if (process.getuid?.() === 0) args.push('--no-sandbox')
  const browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args, timeout })
  try {
    const page = await browser.newPage()
    page.setDefaultTimeout(timeout)
    await page.goto(url, { waitUntil: 'load', timeout })
    return { page, close: () => browser.close() }
  } catch (err) {
    await browser.close()
    throw err
  }
}
