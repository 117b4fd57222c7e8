/**
 * Routes decoded orchestrator messages to one consumer per `op`.
 *
 * A message whose consumer is not registered yet is kept, in arrival order, and
 * handed over the moment the consumer appears: Rust drops HTTP requests that
 * arrive before its subscriber exists (docs/protocol.md §3.4, §15); we do not. Once the
 * module is ready, `seal()` turns "no consumer yet" into "no consumer at all".
 *
 * Messages come from the orchestrator, so a consumer that throws on one is
 * reported, never allowed to unwind into the reader that dispatched it.
 */

/** The shape every dispatched message has. */
export interface OpMessage { op: string }

/** Receives messages of one op. */
export type OpHandler<M extends OpMessage> = (message: M) => void

/** What happens to a message nobody will consume. */
export type UnhandledListener = (op: string, count: number, reason: 'sealed' | 'overflow') => void

/** A consumer threw on a message: the error and the message, for the log. */
export type HandlerErrorListener<M extends OpMessage> = (err: unknown, message: M) => void

/** How much may wait for consumers: a count of messages and their size as read. */
export interface BufferCaps {
  messages: number
  bytes: number
}

/** One consumer per op, with buffering for early messages. */
export class OpRouter<M extends OpMessage> {
  readonly #handlers = new Map<string, OpHandler<M>>()
  readonly #buffered = new Map<string, Array<{ message: M, bytes: number }>>()
  readonly #caps: BufferCaps
  readonly #onUnhandled: UnhandledListener
  readonly #onHandlerError: HandlerErrorListener<M>
  #bufferedCount = 0
  #bufferedBytes = 0
  #sealed = false

  constructor (caps: BufferCaps, onUnhandled: UnhandledListener, onHandlerError: HandlerErrorListener<M>) {
    this.#caps = caps
    this.#onUnhandled = onUnhandled
    this.#onHandlerError = onHandlerError
  }

  /** Messages waiting for a consumer. */
  get bufferedCount (): number {
    return this.#bufferedCount
  }

  /** Their size as read from the wire. */
  get bufferedBytes (): number {
    return this.#bufferedBytes
  }

  /**
   * Register the consumer of `op`; buffered messages of that op are delivered
   * first, synchronously and in order. Returns a function that unregisters it.
   */
  on<K extends M['op']> (op: K, handler: OpHandler<Extract<M, { op: K }>>): () => void {
    if (this.#handlers.has(op)) throw new Error(`A consumer for op '${op}' is already registered`)
    const h = handler as unknown as OpHandler<M>
    this.#handlers.set(op, h)
    const early = this.#buffered.get(op)
    if (early !== undefined) {
      this.#buffered.delete(op)
      this.#bufferedCount -= early.length
      for (const { message, bytes } of early) {
        this.#bufferedBytes -= bytes
        this.#deliver(h, message)
      }
    }
    return () => {
      if (this.#handlers.get(op) === h) this.#handlers.delete(op)
    }
  }

  /** Deliver one message, or keep it until its consumer registers; `bytes` is its size as read. */
  dispatch (message: M, bytes = 0): void {
    const handler = this.#handlers.get(message.op)
    if (handler !== undefined) {
      this.#deliver(handler, message)
      return
    }
    if (this.#sealed) {
      this.#onUnhandled(message.op, 1, 'sealed')
      return
    }
    if (this.#bufferedCount >= this.#caps.messages || this.#bufferedBytes + bytes > this.#caps.bytes) {
      this.#onUnhandled(message.op, 1, 'overflow')
      return
    }
    let list = this.#buffered.get(message.op)
    if (list === undefined) {
      list = []
      this.#buffered.set(message.op, list)
    }
    list.push({ message, bytes })
    this.#bufferedCount++
    this.#bufferedBytes += bytes
  }

  #deliver (handler: OpHandler<M>, message: M): void {
    try {
      handler(message)
    } catch (err) {
      this.#onHandlerError(err, message)
    }
  }

  /** Stop buffering: report and drop what no consumer claimed. */
  seal (): void {
    this.#sealed = true
    for (const [op, list] of this.#buffered) this.#onUnhandled(op, list.length, 'sealed')
    this.#buffered.clear()
    this.#bufferedCount = 0
    this.#bufferedBytes = 0
  }
}
