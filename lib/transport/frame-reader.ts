import { FRAME_HEADER_BYTES, readFrameHeader, type FrameFormat } from '../protocol/frame.js'

/** What a {@link FrameReader} reports. */
export interface FrameReaderEvents {
  /** One complete frame; `payload` is owned by the receiver. */
  onFrame: (format: FrameFormat, payload: Buffer) => void
  /**
   * A framing error (length over the cap, bad format byte): the stream cannot
   * be resynchronised, so the reader stops and the channel must be closed.
   */
  onFault: (err: Error) => void
}

/**
 * Reassembles TCP/UDS frames (docs/protocol.md §11.2) from chunks cut anywhere.
 *
 * The header is validated before the payload is allocated, so a hostile length
 * (up to 4 GiB) costs nothing (docs/reliability.md H13); the payload buffer is
 * allocated once at its final size and filled in place, never re-concatenated.
 * A zero-length frame is delivered like any other (its payload is not JSON, so
 * the channel logs and skips it).
 */
export class FrameReader {
  readonly #maxLength: number
  readonly #events: FrameReaderEvents
  readonly #header = Buffer.alloc(FRAME_HEADER_BYTES)
  #headerFill = 0
  #payload: Buffer | null = null
  #payloadFill = 0
  #format: FrameFormat = 1
  #failed = false

  constructor (maxLength: number, events: FrameReaderEvents) {
    this.#maxLength = maxLength
    this.#events = events
  }

  /** Bytes of an unfinished frame held now (header included). */
  get pendingBytes (): number {
    return this.#headerFill + this.#payloadFill
  }

  /** True after a framing error: nothing more is read. */
  get failed (): boolean {
    return this.#failed
  }

  /** Feed one chunk. */
  push (chunk: Buffer): void {
    let at = 0
    while (at < chunk.length && !this.#failed) {
      if (this.#payload === null) {
        const take = Math.min(FRAME_HEADER_BYTES - this.#headerFill, chunk.length - at)
        chunk.copy(this.#header, this.#headerFill, at, at + take)
        this.#headerFill += take
        at += take
        if (this.#headerFill < FRAME_HEADER_BYTES) return
        let length: number
        try {
          const header = readFrameHeader(this.#header, this.#maxLength)
          length = header.length
          this.#format = header.format
        } catch (err) {
          this.#failed = true
          this.#events.onFault(err as Error)
          return
        }
        this.#headerFill = 0
        if (length === 0) {
          this.#events.onFrame(this.#format, Buffer.alloc(0))
          continue
        }
        // A whole payload inside this chunk needs no copy.
        if (chunk.length - at >= length) {
          const payload = chunk.subarray(at, at + length)
          at += length
          this.#events.onFrame(this.#format, payload)
          continue
        }
        this.#payload = Buffer.allocUnsafe(length)
        this.#payloadFill = 0
      }
      const payload = this.#payload
      const take = Math.min(payload.length - this.#payloadFill, chunk.length - at)
      chunk.copy(payload, this.#payloadFill, at, at + take)
      this.#payloadFill += take
      at += take
      if (this.#payloadFill === payload.length) {
        this.#payload = null
        this.#payloadFill = 0
        this.#events.onFrame(this.#format, payload)
      }
    }
  }
}
