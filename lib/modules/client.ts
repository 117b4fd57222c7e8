import type { FastifyBaseLogger } from 'fastify'
import type { TSchema } from '#typebox'
import {
  ERR_PYWATT_INVALID_OPTIONS, ERR_PYWATT_MODULE_CHANNEL_DOWN, ERR_PYWATT_MODULE_PAYLOAD, ERR_PYWATT_MODULE_REFUSED,
  ERR_PYWATT_MODULE_TIMEOUT, ERR_PYWATT_MODULE_UNAVAILABLE, ERR_PYWATT_MODULE_UNKNOWN_TARGET
} from '../errors.js'
import type { ModuleMessage } from '../protocol/index.js'
import type { Carrier } from './carrier.js'
import type { ModulesSettings } from './options.js'
import { checkSchemaFormats, problemOf } from './schema-check.js'
import { childTraceparent } from './trace.js'
import type { ModuleRequestOptions } from './types.js'
import { encodeRequest, type IncomingAnswer, type WireError } from './wire.js'

type RouteToModule = Extract<ModuleMessage, { op: 'route_to_module' }>

interface Pending {
  target: string
  endpoint: string
  answerSchema: TSchema | undefined
  resolve: (value: unknown) => void
  reject: (err: unknown) => void
  timer: NodeJS.Timeout
  /** Set while no channel could take the request yet. */
  unsent: RouteToModule | null
  detachSignal: () => void
}

/** An error answer as the caller's error. */
function answerError (target: string, endpoint: string, error: WireError): Error {
  if (error.code === 'unknown_target') return new ERR_PYWATT_MODULE_UNKNOWN_TARGET(target)
  if (error.code === 'unavailable') return new ERR_PYWATT_MODULE_UNAVAILABLE(target, error.message)
  const err = new ERR_PYWATT_MODULE_REFUSED(target, endpoint, `${error.code}: ${error.message}`)
  return Object.assign(err, { remoteCode: error.code, ...(error.statusCode === undefined ? {} : { statusCode: error.statusCode }) })
}

/**
 * The caller's side of module-to-module requests: each request waits, under
 * its own timeout, for the answer with its `request_id` (and, while every
 * socket channel reconnects, for a channel). An answer nobody waits for any
 * more is logged and dropped.
 */
export class ModuleClient {
  readonly #carrier: Carrier
  readonly #settings: ModulesSettings
  readonly #log: FastifyBaseLogger
  readonly #pending = new Map<string, Pending>()
  /** Requests that timed out, oldest first, to tell a late answer from a stray one. */
  readonly #expired = new Map<string, string>()
  #unsent = 0
  #stopping: string | null = null
  readonly #stopWatching: () => void

  constructor (carrier: Carrier, settings: ModulesSettings, log: FastifyBaseLogger) {
    this.#carrier = carrier
    this.#settings = settings
    this.#log = log
    // After the state change is done: a new connection sends its identify frame first.
    this.#stopWatching = carrier.onStateChange(() => queueMicrotask(() => this.#retryUnsent()))
  }

  /** Requests waiting for their answer (or for a channel). */
  get pending (): number {
    return this.#pending.size
  }

  async request (target: string, endpoint: string, value: unknown, opts: ModuleRequestOptions<TSchema, TSchema> = {}): Promise<unknown> {
    // JSON has no undefined: a request without a payload carries null.
    const payload = value === undefined ? null : value
    if (this.#stopping !== null) throw new ERR_PYWATT_MODULE_CHANNEL_DOWN(this.#stopping)
    opts.signal?.throwIfAborted()
    const timeout = opts.timeout ?? this.#settings.timeout
    if (!Number.isInteger(timeout) || timeout < 1) throw new ERR_PYWATT_INVALID_OPTIONS(`modules.request() timeout: must be a positive integer of milliseconds (got ${String(timeout)})`)
    const why = this.#carrier.unusable()
    if (why !== null) throw new ERR_PYWATT_MODULE_CHANNEL_DOWN(why)
    if (this.#pending.size >= this.#settings.maxPending) {
      throw new ERR_PYWATT_MODULE_CHANNEL_DOWN(`${this.#pending.size} requests already wait for an answer or a channel (modules.maxPending)`)
    }
    checkSchemaFormats(`modules.request(${target}, ${endpoint})`, opts.schema)
    const problem = problemOf(opts.schema?.request, payload)
    if (problem !== null) throw new ERR_PYWATT_MODULE_PAYLOAD(`the request to ${target} ${endpoint} does not match its schema: ${problem}`)
    const context = opts.tracestate === undefined
      ? { traceparent: childTraceparent(opts.traceparent) }
      : { traceparent: childTraceparent(opts.traceparent), tracestate: opts.tracestate }
    const message = encodeRequest(target, endpoint, payload, context)
    const id = message.request_id
    return await new Promise((resolve, reject) => {
      const signal = opts.signal
      const onAbort = (): void => {
        this.#forget(id)
        reject(signal?.reason)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      const entry: Pending = {
        target,
        endpoint,
        answerSchema: opts.schema?.answer,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#forget(id)
          this.#remember(id, `${target} ${endpoint}`)
          reject(new ERR_PYWATT_MODULE_TIMEOUT(target, endpoint, timeout))
        }, timeout),
        unsent: null,
        detachSignal: () => signal?.removeEventListener('abort', onAbort)
      }
      this.#pending.set(id, entry)
      try {
        if (!this.#carrier.send(message)) {
          entry.unsent = message
          this.#unsent++
        }
      } catch (err) {
        this.#forget(id)
        reject(err)
      }
    })
  }

  /** Settle the request an answer is for, or log and drop the answer. */
  answer (answer: IncomingAnswer): void {
    const entry = this.#pending.get(answer.requestId)
    if (entry === undefined) {
      const late = this.#expired.get(answer.requestId)
      if (late === undefined) this.#log.warn({ requestId: answer.requestId, source: answer.source }, 'a module answer for no pending request: dropped')
      else this.#log.warn({ requestId: answer.requestId, source: answer.source, request: late }, 'a module answer came after its request timed out: dropped')
      return
    }
    if (answer.source !== entry.target) {
      // Only the target (or the orchestrator speaking for it) answers: another module cannot settle this request.
      this.#log.warn({ requestId: answer.requestId, source: answer.source, target: entry.target }, 'a module answer from another module than the target: dropped')
      return
    }
    this.#forget(answer.requestId)
    const { outcome } = answer
    if (!outcome.ok) {
      entry.reject(answerError(entry.target, entry.endpoint, outcome.error))
      return
    }
    const problem = problemOf(entry.answerSchema, outcome.value)
    if (problem === null) entry.resolve(outcome.value)
    else entry.reject(new ERR_PYWATT_MODULE_PAYLOAD(`the answer of ${entry.target} ${entry.endpoint} does not match its schema: ${problem}`))
  }

  /** Reject every pending request and refuse new ones. */
  close (why: string): void {
    this.#stopping = why
    this.#stopWatching()
    for (const [id, entry] of this.#pending) {
      this.#forget(id)
      entry.reject(new ERR_PYWATT_MODULE_CHANNEL_DOWN(why))
    }
  }

  #forget (id: string): void {
    const entry = this.#pending.get(id)
    if (entry === undefined) return
    this.#pending.delete(id)
    clearTimeout(entry.timer)
    entry.detachSignal()
    if (entry.unsent !== null) this.#unsent--
  }

  #remember (id: string, what: string): void {
    this.#expired.set(id, what)
    if (this.#expired.size > this.#settings.maxPending) this.#expired.delete(this.#expired.keys().next().value as string)
  }

  /** A channel changed state: send what waits for one, or fail it when none will come back. */
  #retryUnsent (): void {
    if (this.#unsent === 0) return
    const why = this.#carrier.unusable()
    for (const [id, entry] of this.#pending) {
      if (entry.unsent === null) continue
      if (why !== null) {
        this.#forget(id)
        entry.reject(new ERR_PYWATT_MODULE_CHANNEL_DOWN(why))
        continue
      }
      if (!this.#carrier.send(entry.unsent)) return
      entry.unsent = null
      this.#unsent--
    }
  }
}
