import { StringDecoder } from 'node:string_decoder'
import { format } from 'node:util'
import type { FastifyBaseLogger } from 'fastify'
import { secretRegistry } from './registry.js'

/**
 * Keeps fd 1 for protocol lines only (docs/reliability.md H1).
 *
 * Replacing `process.stdout.write` catches `console.*`, stray writes, a default
 * `pino()` and `Fastify({ logger: true })` (pino falls back to `process.stdout`
 * once its `write` was replaced). Every such line becomes a JSON log line on
 * stderr, scrubbed like any other. Direct `fs.writeSync(1, …)` and
 * `pino.destination(1)` bypass any in-process guard and cannot be caught.
 */

const CONSOLE_LEVELS = {
  log: 'info',
  info: 'info',
  debug: 'debug',
  dir: 'info',
  warn: 'warn',
  error: 'error',
  trace: 'info'
} as const
type ConsoleMethod = keyof typeof CONSOLE_LEVELS

/** Longest partial stray line kept before it is logged anyway. */
const MAX_PARTIAL = 64 * 1024

/** Undoes what {@link installStdoutGuard} did. */
export type RemoveGuard = () => void

/**
 * Redirect stray stdout output and `console.*` to `log`. The protocol writer
 * must capture the real `write` before this runs.
 */
export function installStdoutGuard (log: FastifyBaseLogger, stdout: NodeJS.WriteStream = process.stdout): RemoveGuard {
  const hadOwnWrite = Object.prototype.hasOwnProperty.call(stdout, 'write')
  const ownWrite = stdout.write
  let partial = ''

  const emit = (line: string): void => {
    log.info({ source: 'stdout' }, line)
  }
  // Bytes are decoded as a stream: a character split across two writes stays whole.
  const decoder = new StringDecoder('utf8')
  const strayWrite = function (chunk: unknown, encoding?: unknown, cb?: unknown): boolean {
    // As on the real stream: a string is encoded with `encoding` (utf8 by
    // default); a Buffer's bytes are taken as they are.
    const bytes = typeof chunk === 'string'
      ? (typeof encoding === 'string' && encoding !== 'utf8' && encoding !== 'utf-8' ? Buffer.from(chunk, encoding as BufferEncoding) : null)
      : Buffer.from(chunk as Uint8Array)
    partial += bytes === null ? chunk as string : decoder.write(bytes)
    let nl = partial.indexOf('\n')
    while (nl !== -1) {
      emit(partial.slice(0, nl))
      partial = partial.slice(nl + 1)
      nl = partial.indexOf('\n')
    }
    if (partial.length > MAX_PARTIAL) {
      // Keep back what may be the start of a secret the next write completes, and never cut through one.
      const hold = Math.min(secretRegistry.longestForm, MAX_PARTIAL) - 1
      const cut = secretRegistry.safeCut(partial, Math.max(partial.length - Math.max(hold, 0), 0))
      emit(partial.slice(0, cut))
      partial = partial.slice(cut)
    }
    const callback = typeof encoding === 'function' ? encoding : cb
    if (typeof callback === 'function') process.nextTick(callback as () => void)
    return true
  }
  stdout.write = strayWrite as typeof stdout.write

  const saved = new Map<ConsoleMethod, (...args: any[]) => void>()
  for (const method of Object.keys(CONSOLE_LEVELS) as ConsoleMethod[]) {
    saved.set(method, console[method])
    const level = CONSOLE_LEVELS[method]
    console[method] = (...args: unknown[]) => {
      const msg = format(...args)
      if (method === 'trace') {
        log[level]({ source: 'console', stack: new Error(msg).stack }, msg)
      } else {
        log[level]({ source: 'console' }, msg)
      }
    }
  }

  return () => {
    partial += decoder.end()
    if (partial.length > 0) emit(partial)
    partial = ''
    if (hadOwnWrite) stdout.write = ownWrite
    else delete (stdout as { write?: unknown }).write
    for (const [method, fn] of saved) console[method] = fn
  }
}
