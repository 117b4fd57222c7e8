import { writeSync } from 'node:fs'
import type { Writable } from 'node:stream'

/** Options of a {@link StderrSink}; the defaults write to the process's stderr. */
export interface StderrSinkOptions {
  /** The stream lines are handed to (default `process.stderr`). */
  stream?: Writable
  /** The descriptor written directly by {@link StderrSink.flushSync} (default 2). */
  fd?: number
  /** Bytes waiting for the reader above which new lines are dropped and counted (default 8 MiB). */
  maxBufferedBytes?: number
  /** How long {@link StderrSink.flushSync} keeps retrying a full pipe, in milliseconds (default 100). */
  exitFlushMs?: number
}

/** What became of the lines handed to a {@link StderrSink}. */
export interface StderrSinkStats {
  /** Lines the reader accepted. */
  written: number
  /** Lines given up: the reader is gone, or too far behind. */
  dropped: number
  /** Why the sink stopped writing (`EPIPE`, …), or `null` while it writes. */
  deadReason: string | null
}

const DEFAULT_MAX_BUFFERED = 8 * 1024 * 1024
const sleeper = new Int32Array(new SharedArrayBuffer(4))

/**
 * The log destination of `pywattLogger()`: never blocks, never loops.
 *
 * Lines logged in one tick leave in one write of `process.stderr`, whose pipe
 * libuv keeps non-blocking: a slow reader only grows the stream's buffer,
 * and past `maxBufferedBytes` new lines are dropped and counted instead. A
 * write error (EPIPE: the reader is gone; EBADF) marks the sink dead: later
 * lines are dropped and counted at once. pino's default destination retries
 * a failed write every 100 ms for ever when it is flushed at exit, so a module
 * whose orchestrator died (all three pipes closed) would stay alive and deaf
 * to SIGTERM; this sink gives up after `exitFlushMs`.
 */
export class StderrSink {
  readonly #stream: Writable
  readonly #fd: number
  readonly #maxBuffered: number
  readonly #exitFlushMs: number
  #batch = ''
  #batchLines = 0
  #scheduled = false
  /** Lines of each chunk handed to the stream and not yet confirmed, oldest first. */
  readonly #inFlight: number[] = []
  readonly #stats: StderrSinkStats = { written: 0, dropped: 0, deadReason: null }

  constructor (opts: StderrSinkOptions = {}) {
    this.#stream = opts.stream ?? process.stderr
    this.#fd = opts.fd ?? 2
    this.#maxBuffered = opts.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED
    this.#exitFlushMs = opts.exitFlushMs ?? 100
    this.#stream.on('error', (err: NodeJS.ErrnoException) => this.#die(err.code ?? err.message))
  }

  /** Counters; `deadReason` says whether lines can still reach the reader. */
  get stats (): Readonly<StderrSinkStats> {
    return this.#stats
  }

  /** pino's destination call: one serialized line, newline included. */
  write (line: string): boolean {
    if (this.#stats.deadReason !== null || this.#stream.destroyed) {
      this.#stats.dropped++
      return true
    }
    if (this.#stream.writableLength + this.#batch.length + line.length > this.#maxBuffered) {
      this.#stats.dropped++
      return true
    }
    this.#batch += line
    this.#batchLines++
    if (!this.#scheduled) {
      this.#scheduled = true
      setImmediate(this.#handOver)
    }
    return true
  }

  /**
   * Hand what is batched to the stream and wait until the reader took it all,
   * the sink died, or `ms` passed. Resolves `true` when nothing is left.
   */
  async flush (ms: number): Promise<boolean> {
    this.#handOver()
    const deadline = Date.now() + ms
    while (this.#pending() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5))
    return !this.#pending()
  }

  /**
   * For the process's `exit` event, where nothing asynchronous runs any more:
   * write the batch straight to the descriptor, retrying a full pipe for at
   * most `exitFlushMs`. Lines the stream still buffers are lost with the
   * process; writing the batch before them would reorder the log, so then the
   * batch is counted as dropped too.
   */
  flushSync (): void {
    if (this.#batchLines === 0) return
    const lines = this.#batchLines
    let rest = Buffer.from(this.#batch)
    this.#batch = ''
    this.#batchLines = 0
    if (this.#stats.deadReason !== null || this.#stream.destroyed || this.#stream.writableLength > 0) {
      this.#stats.dropped += lines
      this.#dropUnconfirmed()
      return
    }
    const deadline = Date.now() + this.#exitFlushMs
    while (rest.length > 0) {
      try {
        rest = rest.subarray(writeSync(this.#fd, rest))
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code
        if (code !== 'EAGAIN' || Date.now() >= deadline) {
          if (code !== 'EAGAIN') this.#stats.deadReason = code ?? 'write failed'
          this.#stats.dropped += lines
          return
        }
        Atomics.wait(sleeper, 0, 0, 2)
      }
    }
    this.#stats.written += lines
  }

  #pending (): boolean {
    return this.#stats.deadReason === null && !this.#stream.destroyed &&
      (this.#batchLines > 0 || this.#inFlight.length > 0)
  }

  readonly #handOver = (): void => {
    this.#scheduled = false
    if (this.#batchLines === 0) return
    const lines = this.#batchLines
    const batch = this.#batch
    this.#batch = ''
    this.#batchLines = 0
    if (this.#stats.deadReason !== null || this.#stream.destroyed) {
      this.#stats.dropped += lines
      return
    }
    this.#inFlight.push(lines)
    this.#stream.write(batch, this.#confirm)
  }

  readonly #confirm = (err?: Error | null): void => {
    const lines = this.#inFlight.shift() ?? 0
    if (err == null) this.#stats.written += lines
    else {
      this.#stats.dropped += lines
      this.#die((err as NodeJS.ErrnoException).code ?? err.message)
    }
  }

  #die (reason: string): void {
    if (this.#stats.deadReason !== null) return
    this.#stats.deadReason = reason
    this.#stats.dropped += this.#batchLines
    this.#batch = ''
    this.#batchLines = 0
    this.#dropUnconfirmed()
  }

  /** Lines still in the stream's buffer will never be confirmed: count them as dropped. */
  #dropUnconfirmed (): void {
    for (const lines of this.#inFlight) this.#stats.dropped += lines
    this.#inFlight.length = 0
  }
}

let shared: StderrSink | null = null

/**
 * The process-wide sink on stderr: every `pywattLogger()` without a
 * destination shares it, so their lines keep their order. Its batch is written
 * out (bounded) when the process exits.
 */
export function stderrSink (): StderrSink {
  if (shared === null) {
    const sink = new StderrSink()
    process.once('exit', () => sink.flushSync())
    shared = sink
  }
  return shared
}

/** The counters of the shared sink, `null` while nothing has used it (reading them does not create it). */
export function sharedStderrStats (): Readonly<StderrSinkStats> | null {
  return shared === null ? null : shared.stats
}

/** Wait (at most `ms`) for the shared stderr sink to hand its lines to the reader. */
export async function flushStderr (ms: number): Promise<boolean> {
  return shared === null ? true : await shared.flush(ms)
}
