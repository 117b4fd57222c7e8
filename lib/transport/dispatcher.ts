/**
 * Routes decoded orchestrator messages to one consumer per `op`.
 *
 * A message whose consumer is not registered yet is kept, in arrival order, and
 * handed over the moment the consumer appears: Rust drops HTTP requests that
 * arrive before its subscriber exists (PROTOCOL.md §10.4); we do not. Once the
 * module is ready, `seal()` turns "no consumer yet" into "no consumer at all".
 */

/** The shape every dispatched message has. */
export interface OpMessage { op: string }

/** Receives messages of one op. */
export type OpHandler<M extends OpMessage> = (message: M) => void

/** What happens to a message nobody will consume. */
export type UnhandledListener = (op: string, count: number, reason: 'sealed' | 'overflow') => void

/** One consumer per op, with buffering for early messages. */
export class Dispatcher<M extends OpMessage> {
  readonly #handlers = new Map<string, OpHandler<M>>()
  readonly #buffered = new Map<string, M[]>()
  readonly #maxBuffered: number
  readonly #onUnhandled: UnhandledListener
  #bufferedCount = 0
  #sealed = false

  constructor (maxBuffered: number, onUnhandled: UnhandledListener) {
    this.#maxBuffered = maxBuffered
    this.#onUnhandled = onUnhandled
  }

  /** Messages waiting for a consumer. */
  get bufferedCount (): number {
    return this.#bufferedCount
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
      for (const message of early) h(message)
    }
    return () => {
      if (this.#handlers.get(op) === h) this.#handlers.delete(op)
    }
  }

  /** Deliver one message, or keep it until its consumer registers. */
  dispatch (message: M): void {
    const handler = this.#handlers.get(message.op)
    if (handler !== undefined) {
      handler(message)
      return
    }
    if (this.#sealed) {
      this.#onUnhandled(message.op, 1, 'sealed')
      return
    }
    if (this.#bufferedCount >= this.#maxBuffered) {
      this.#onUnhandled(message.op, 1, 'overflow')
      return
    }
    let list = this.#buffered.get(message.op)
    if (list === undefined) {
      list = []
      this.#buffered.set(message.op, list)
    }
    list.push(message)
    this.#bufferedCount++
  }

  /** Stop buffering: report and drop what no consumer claimed. */
  seal (): void {
    this.#sealed = true
    for (const [op, list] of this.#buffered) this.#onUnhandled(op, list.length, 'sealed')
    this.#buffered.clear()
    this.#bufferedCount = 0
  }
}
