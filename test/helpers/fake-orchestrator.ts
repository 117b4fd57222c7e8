import { PassThrough } from 'node:stream'
import type { ExitCode } from '../../lib/lifecycle/exit-codes.js'

/** A parsed line the module wrote. */
export type Line = Record<string, any>

/**
 * An in-process orchestrator double: two streams given to the plugin as `io`,
 * plus helpers to write lines and wait for the module's answers.
 */
export class FakeOrchestrator {
  readonly input = new PassThrough()
  readonly output = new PassThrough()
  readonly lines: Line[] = []
  readonly raw: string[] = []
  readonly exits: ExitCode[] = []
  #buf = ''
  #waiters: Array<{ pred: (l: Line) => boolean, resolve: (l: Line) => void }> = []

  constructor () {
    this.output.setEncoding('utf8')
    this.output.on('data', (chunk: string) => {
      this.#buf += chunk
      let nl = this.#buf.indexOf('\n')
      while (nl !== -1) {
        const text = this.#buf.slice(0, nl)
        this.#buf = this.#buf.slice(nl + 1)
        this.raw.push(text)
        const line = JSON.parse(text) as Line
        this.lines.push(line)
        this.#waiters = this.#waiters.filter((w) => {
          if (!w.pred(line)) return true
          w.resolve(line)
          return false
        })
        nl = this.#buf.indexOf('\n')
      }
    })
  }

  /** The `io` option for the plugin. */
  get io () {
    return { input: this.input, output: this.output, exit: (code: ExitCode) => { this.exits.push(code) } }
  }

  /** Write one line (a newline is added). */
  write (text: string): void {
    this.input.write(text + '\n')
  }

  /** Write a message as JSON. */
  send (message: Record<string, unknown>): void {
    this.write(JSON.stringify(message))
  }

  /** Send a standard Init line. */
  init (overrides: Record<string, unknown> = {}): void {
    this.send({ orchestrator_api: 'http://127.0.0.1:9900', module_id: 'test-module', env: {}, listen: '127.0.0.1:0', ...overrides })
  }

  /** Answer every `get_secret` for the given names from `values`. */
  serveSecrets (values: Record<string, string>): void {
    this.output.on('data', () => {})
    const answered = new Set<number>()
    const tick = (): void => {
      this.lines.forEach((l, i) => {
        if (l.op === 'get_secret' && !answered.has(i) && values[l.name] !== undefined) {
          answered.add(i)
          this.send({ op: 'secret', name: l.name, value: values[l.name] })
        }
      })
    }
    this.output.on('data', () => setImmediate(tick))
  }

  /** The first line (past or future) that matches. */
  async waitFor (pred: (l: Line) => boolean, timeout = 5000): Promise<Line> {
    const seen = this.lines.find(pred)
    if (seen !== undefined) return seen
    return await new Promise<Line>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for a module line')), timeout)
      this.#waiters.push({ pred, resolve: (l) => { clearTimeout(timer); resolve(l) } })
    })
  }

  /** Lines with this op. */
  ops (op: string): Line[] {
    return this.lines.filter((l) => l.op === op)
  }
}

/** Wait until `cond()` is true (polling), or fail after `timeout`. */
export async function until (cond: () => boolean, timeout = 5000): Promise<void> {
  const start = Date.now()
  while (!cond()) {
    if (Date.now() - start > timeout) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}
