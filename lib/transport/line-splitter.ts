/**
 * Byte-level newline splitter for the stdio protocol.
 *
 * readline is unusable here: it has no line cap, splits on a bare CR and decodes
 * chunk by chunk (docs/reliability.md H7, H8). This splitter searches only the new
 * chunk for `\n`, concatenates once per complete line, decodes UTF-8 strictly
 * once per line, and drops a line that grows past its cap while holding at most
 * `maxLineBytes` in memory.
 */

const NEWLINE = 0x0a

/** Why a line was not delivered as text. */
export type LineFault =
  | { kind: 'oversize', bytes: number, limit: number }
  | { kind: 'invalid-utf8', bytes: number }

/** Callbacks of a {@link LineSplitter}. */
export interface LineSplitterHandlers {
  /** A complete line, decoded, without its `\n`. */
  onLine: (line: string) => void
  /**
   * Offered each complete line as bytes before it is decoded; returning `true`
   * claims it (a consumer that reads part of a large line without decoding
   * it), `false` has it decoded and delivered to `onLine` as usual.
   */
  onRawLine?: (line: Buffer) => boolean
  /** A line that was dropped; never includes the line's content. */
  onFault: (fault: LineFault) => void
}

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** Splits a byte stream into lines on `\n` only. */
export class LineSplitter {
  #chunks: Buffer[] = []
  #pending = 0
  #discarding = 0
  #maxLineBytes: number
  readonly #handlers: LineSplitterHandlers

  constructor (maxLineBytes: number, handlers: LineSplitterHandlers) {
    this.#maxLineBytes = maxLineBytes
    this.#handlers = handlers
  }

  /** The cap for lines not yet complete; the first (Init) line uses a smaller one. */
  get maxLineBytes (): number {
    return this.#maxLineBytes
  }

  set maxLineBytes (value: number) {
    this.#maxLineBytes = value
  }

  /** Bytes of the current incomplete line held in memory. */
  get pendingBytes (): number {
    return this.#pending
  }

  /** True while the bytes of an over-long line are being skipped up to its newline. */
  get discarding (): boolean {
    return this.#discarding > 0
  }

  /** Feed one chunk; complete lines are delivered synchronously, in order. */
  push (chunk: Buffer): void {
    let start = 0
    while (start < chunk.length) {
      const nl = chunk.indexOf(NEWLINE, start)
      if (nl === -1) {
        this.#hold(chunk, start, chunk.length)
        return
      }
      this.#finish(chunk, start, nl)
      start = nl + 1
    }
  }

  /**
   * Called at EOF: a final line without `\n` is delivered (an orchestrator
   * that ends with a partial line still meant it), then the state is reset.
   */
  end (): void {
    if (this.#discarding > 0) {
      this.#reportOversize(0)
    } else if (this.#pending > 0) {
      this.#emit(this.#take())
    }
  }

  #hold (chunk: Buffer, from: number, to: number): void {
    const size = to - from
    if (this.#discarding > 0) {
      this.#discarding += size
      return
    }
    if (this.#pending + size > this.#maxLineBytes) {
      this.#discarding = this.#pending + size
      this.#chunks = []
      this.#pending = 0
      return
    }
    this.#chunks.push(from === 0 && to === chunk.length ? chunk : chunk.subarray(from, to))
    this.#pending += size
  }

  #finish (chunk: Buffer, from: number, to: number): void {
    if (this.#discarding > 0) {
      this.#reportOversize(to - from)
      return
    }
    const size = to - from
    if (this.#pending + size > this.#maxLineBytes) {
      const bytes = this.#pending + size
      this.#chunks = []
      this.#pending = 0
      this.#handlers.onFault({ kind: 'oversize', bytes, limit: this.#maxLineBytes })
      return
    }
    if (this.#pending === 0) {
      this.#emit(chunk.subarray(from, to))
      return
    }
    this.#chunks.push(chunk.subarray(from, to))
    this.#pending += size
    this.#emit(this.#take())
  }

  #take (): Buffer {
    const line = this.#chunks.length === 1 ? this.#chunks[0] : Buffer.concat(this.#chunks, this.#pending)
    this.#chunks = []
    this.#pending = 0
    return line
  }

  #reportOversize (tail: number): void {
    const bytes = this.#discarding + tail
    this.#discarding = 0
    this.#handlers.onFault({ kind: 'oversize', bytes, limit: this.#maxLineBytes })
  }

  #emit (bytes: Buffer): void {
    if (this.#handlers.onRawLine?.(bytes) === true) return
    let text: string
    try {
      text = decoder.decode(bytes)
    } catch {
      this.#handlers.onFault({ kind: 'invalid-utf8', bytes: bytes.length })
      return
    }
    this.#handlers.onLine(text)
  }
}
