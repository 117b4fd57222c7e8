import type { Writable } from 'node:stream'
import { EventEmitter } from 'node:events'
import { ERR_PYWATT_CHANNEL_CLOSED, ERR_PYWATT_OUTPUT_OVERFLOW } from '../errors.js'

/** Options of a {@link ProtocolWriter}. */
export interface ProtocolWriterOptions {
  /**
   * Above this many queued bytes the writer reports pressure so that the reader
   * stops pulling new work (docs/reliability.md H3).
   */
  highWaterBytes: number
  /** Hard cap: a non-essential line that would queue more than this is refused. */
  maxQueuedBytes: number
}

type WriteFn = (chunk: string | Uint8Array, cb: (err?: Error | null) => void) => boolean

/**
 * The one writer of protocol lines (docs/protocol.md §3.1). Each message is a single
 * `write` of `json + "\n"`, so lines never interleave. The stream's `write` is
 * captured at construction: the stdout guard later replaces `process.stdout.write`
 * for everybody else, and only this writer keeps the real one.
 *
 * Events: `pressure` (queued bytes crossed the high-water mark), `drain`
 * (back under it), `closed` (the peer is gone: EPIPE or a write error).
 */
export class ProtocolWriter extends EventEmitter {
  readonly #output: Writable
  readonly #write: WriteFn
  readonly #opts: ProtocolWriterOptions
  #closedReason: string | null = null
  #pressured = false
  #corked = false
  #lines = 0
  #bytes = 0
  #dropped = 0

  constructor (output: Writable, opts: ProtocolWriterOptions) {
    super()
    this.#output = output
    const write = output.write as unknown as WriteFn
    this.#write = (chunk, cb) => write.call(output, chunk, cb)
    this.#opts = opts
    output.on('error', (err: NodeJS.ErrnoException) => this.#close(err.code === 'EPIPE' ? 'EPIPE' : err.message))
    output.on('close', () => this.#close('output closed'))
    output.on('drain', () => this.#checkDrain())
  }

  /** Bytes handed to `write` but not yet accepted by the OS. */
  get queuedBytes (): number {
    return this.#output.writableLength
  }

  /** True once the output is unusable; the reason says why. */
  get closedReason (): string | null {
    return this.#closedReason
  }

  /** Lines and bytes written so far, and lines refused (the output gone or over its cap). */
  get stats (): { lines: number, bytes: number, dropped: number } {
    return { lines: this.#lines, bytes: this.#bytes, dropped: this.#dropped }
  }

  /**
   * Queue one encoded message (without the trailing newline).
   * `essential` lines (acks, replies owed to the orchestrator) bypass the hard
   * cap: refusing them would lose an answer; everything else is refused over it.
   * Throws `FST_PYWATT_CHANNEL_CLOSED` or `FST_PYWATT_OUTPUT_OVERFLOW`.
   */
  send (json: string, essential = false): void {
    this.#admit(essential)
    const line = json + '\n'
    this.#lines++
    this.#bytes += line.length
    this.#write(line, onWriteError)
    this.#checkPressure()
  }

  /**
   * {@link send} for a line given in pieces (strings of ASCII-safe JSON or
   * bytes), written one after the other within the same cork, so the line
   * leaves whole: a large byte array is sent as it is, never turned into a string.
   */
  sendParts (parts: readonly [string, Uint8Array, string], essential = false): void {
    this.#admit(essential)
    const [head, body, tail] = parts
    this.#lines++
    this.#bytes += head.length + body.length + tail.length + 1
    this.#write(head, onWriteError)
    this.#write(body, onWriteError)
    this.#write(tail + '\n', onWriteError)
    this.#checkPressure()
  }

  #admit (essential: boolean): void {
    if (this.#closedReason !== null) {
      this.#dropped++
      throw new ERR_PYWATT_CHANNEL_CLOSED(this.#closedReason)
    }
    if (!essential && this.#output.writableLength > this.#opts.maxQueuedBytes) {
      this.#dropped++
      throw new ERR_PYWATT_OUTPUT_OVERFLOW(this.#opts.maxQueuedBytes)
    }
    // stdout on a Linux pipe is synchronous: one write(2) per line. Lines sent
    // in the same tick are corked and leave in one writev when it ends.
    if (!this.#corked) {
      this.#corked = true
      this.#output.cork()
      process.nextTick(this.#uncork)
    }
  }

  #checkPressure (): void {
    if (!this.#pressured && this.#output.writableLength > this.#opts.highWaterBytes) {
      this.#pressured = true
      this.emit('pressure')
    }
  }

  /** Resolves once every queued byte was handed to the OS, or the output is gone. */
  async flush (): Promise<void> {
    if (this.#closedReason !== null || this.#output.writableLength === 0) return
    await new Promise<void>((resolve) => {
      const done = (): void => {
        this.#output.off('drain', onDrain)
        this.off('closed', done)
        resolve()
      }
      const onDrain = (): void => {
        if (this.#output.writableLength === 0) done()
      }
      this.#output.on('drain', onDrain)
      this.once('closed', done)
      // An empty write's callback runs after all earlier writes were flushed.
      this.#write('', () => { if (this.#output.writableLength === 0) done() })
    })
  }

  readonly #uncork = (): void => {
    this.#corked = false
    this.#output.uncork()
  }

  #checkDrain (): void {
    if (this.#pressured && this.#output.writableLength <= this.#opts.highWaterBytes) {
      this.#pressured = false
      this.emit('drain')
    }
  }

  #close (reason: string): void {
    if (this.#closedReason !== null) return
    this.#closedReason = reason
    this.emit('closed', reason)
  }
}

// Errors surface through the stream's 'error' event, handled in the constructor.
function onWriteError (): void {}
