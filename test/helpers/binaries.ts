import { execFileSync } from 'node:child_process'
import type { Test } from 'tap'

/** The absolute path of `name` on PATH, or `null`. */
export function which (name: string): string | null {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || null
  } catch {
    return null
  }
}

/**
 * The path of a program a test needs. Under CI=true a missing one fails the
 * run (.ci/run installs it); locally the test is skipped with a loud reason,
 * as for a missing database server (test/data/helpers.ts).
 */
export function requireBinary (t: Test, name: string, installHint: string): string | null {
  const path = which(name)
  if (path !== null) return path
  const reason = `${name} is not installed (${installHint})`
  if (process.env.CI === 'true') {
    t.fail(`${reason} (CI=true: every check must run)`)
  } else {
    process.stderr.write(`\n*** SKIPPING ${name} tests: ${reason} ***\n\n`)
    t.test(`SKIPPED: ${reason}`, { skip: reason }, async () => {})
  }
  return null
}
