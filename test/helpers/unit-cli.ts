import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { request } from 'node:http'
import { fileURLToPath } from 'node:url'

/** The built `pywatt-dev` (npm test builds first: `pretest`). */
export const CLI = fileURLToPath(new URL('../../dist/bin/pywatt-dev.js', import.meta.url))
export const ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** Accumulated text of a stream, with a cursor for waiting on what comes next. */
export class TextLog {
  text = ''
  #cursor = 0
  #listeners = new Set<() => void>()
  /** More to show when a wait fails (the other stream, the exit). */
  context: () => string = () => ''

  push (chunk: string): void {
    this.text += chunk
    for (const fn of this.#listeners) fn()
  }

  /** Lines since the start. */
  lines (): string[] {
    return this.text.split('\n')
  }

  /** The first match of `re` anywhere in the text, whenever it comes; the cursor does not move. */
  async find (re: RegExp, timeout = 15_000): Promise<RegExpExecArray> {
    return await new Promise<RegExpExecArray>((resolve, reject) => {
      const check = (): boolean => {
        const m = re.exec(this.text)
        if (m === null) return false
        cleanup()
        resolve(m)
        return true
      }
      const timer = setTimeout(() => {
        cleanup()
        reject(new Error(`no ${String(re)} within ${timeout} ms; output:\n${this.text}${this.context()}`))
      }, timeout)
      const cleanup = (): void => {
        clearTimeout(timer)
        this.#listeners.delete(check)
      }
      this.#listeners.add(check)
      check()
    })
  }

  /** The first match of `re` after the cursor; the cursor then moves past it. */
  async next (re: RegExp, timeout = 15_000): Promise<RegExpExecArray> {
    return await new Promise<RegExpExecArray>((resolve, reject) => {
      const check = (): boolean => {
        const rest = this.text.slice(this.#cursor)
        const m = re.exec(rest)
        if (m === null) return false
        this.#cursor += m.index + m[0].length
        cleanup()
        resolve(m)
        return true
      }
      const timer = setTimeout(() => {
        cleanup()
        reject(new Error(`no ${String(re)} within ${timeout} ms; output after the cursor:\n${this.text.slice(this.#cursor)}${this.context()}`))
      }, timeout)
      const cleanup = (): void => {
        clearTimeout(timer)
        this.#listeners.delete(check)
      }
      this.#listeners.add(check)
      check()
    })
  }
}

export interface CliRun {
  child: ChildProcessWithoutNullStreams
  stdout: TextLog
  stderr: TextLog
  exit: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  /** Type one command on the CLI's stdin. */
  type: (line: string) => void
}

/** The environment of a spawned CLI: this one's, without anything the tests set as secrets. */
export function cliEnv (extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const k of ['API_KEY', 'PYWATT_LOG_LEVEL', 'RUST_LOG', 'PYWATT_STANDALONE', 'PYWATT_MODULE_ID']) delete env[k]
  return { ...env, ...extra }
}

/** Spawn the built CLI; it is killed when the test ends if it is still running. */
export function runCli (t: { after: (fn: () => unknown) => void }, args: string[], env: NodeJS.ProcessEnv = cliEnv()): CliRun {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] })
  const stdout = new TextLog()
  const stderr = new TextLog()
  child.stdout.setEncoding('utf8').on('data', (s: string) => stdout.push(s))
  child.stderr.setEncoding('utf8').on('data', (s: string) => stderr.push(s))
  child.stdin.on('error', () => {})
  let exited: { code: number | null, signal: NodeJS.Signals | null } | null = null
  const exit = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => {
      exited = { code, signal }
      resolve(exited)
    })
  })
  stdout.context = () => `\n--- stderr:\n${stderr.text}\n--- exit: ${JSON.stringify(exited)}`
  stderr.context = () => `\n--- stdout:\n${stdout.text}\n--- exit: ${JSON.stringify(exited)}`
  t.after(() => { if (exited === null) child.kill('SIGKILL') })
  return { child, stdout, stderr, exit, type: (line) => { child.stdin.write(line + '\n') } }
}

export interface HttpAnswer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

/** One HTTP request without keep-alive. */
export async function http (url: string, opts: { method?: string, body?: string, headers?: Record<string, string> } = {}): Promise<HttpAnswer> {
  return await new Promise<HttpAnswer>((resolve, reject) => {
    const req = request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (s: string) => { body += s })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(opts.body)
  })
}

/** Retry `read` until `accept` holds (or fail with the last value after `timeout`). */
export async function eventually<T> (read: () => Promise<T>, accept: (value: T) => boolean, timeout = 10_000): Promise<T> {
  const end = Date.now() + timeout
  for (;;) {
    const value = await read()
    if (accept(value) || Date.now() > end) return value
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
