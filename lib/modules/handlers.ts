import type { FastifyBaseLogger } from 'fastify'
import type { TSchema } from '#typebox'
import { ERR_PYWATT_INVALID_OPTIONS } from '../errors.js'
import { checkSchemaFormats, problemOf } from './schema-check.js'
import type { ModuleHandleOptions, ModuleHandler, ModuleRequestContext } from './types.js'
import type { IncomingRequest, Outcome } from './wire.js'

interface Registered {
  handler: ModuleHandler
  request: TSchema | undefined
  answer: TSchema | undefined
}

/** The endpoint of the catch-all handler. */
export const ANY_ENDPOINT = '*'

/** Endpoints the SDK serves itself (`pywatt.http`) or uses on the wire (`pywatt.answer`). */
const RESERVED = 'pywatt.'

const NO_INTERNALS = 'the handler failed'

/** An error a handler threw, as the caller may see it: a 4xx as it is, anything else generic. */
function thrownOutcome (err: unknown, log: FastifyBaseLogger): Outcome {
  const e = (err !== null && typeof err === 'object' ? err : {}) as { statusCode?: unknown, code?: unknown, message?: unknown }
  const status = e.statusCode
  if (typeof status === 'number' && Number.isInteger(status) && status >= 400 && status < 500) {
    return {
      ok: false,
      error: {
        code: typeof e.code === 'string' ? e.code : 'error',
        message: typeof e.message === 'string' ? e.message : String(err),
        statusCode: status
      }
    }
  }
  log.error({ err }, 'a module request handler failed')
  return { ok: false, error: { code: 'handler_error', message: NO_INTERNALS, statusCode: 500 } }
}

/**
 * The target's side: one handler per endpoint (and a catch-all), the
 * schemas of each, and the handlers running now (awaited on close).
 */
export class HandlerRegistry {
  readonly #handlers = new Map<string, Registered>()
  readonly #inFlight = new Set<Promise<Outcome>>()
  readonly #log: FastifyBaseLogger
  readonly #builtin: ReadonlyMap<string, (request: IncomingRequest) => Promise<Outcome>>

  /** `builtin`: the reserved endpoints the SDK serves itself. */
  constructor (log: FastifyBaseLogger, builtin: ReadonlyMap<string, (request: IncomingRequest) => Promise<Outcome>> = new Map()) {
    this.#log = log
    this.#builtin = builtin
  }

  /** Handlers running now. */
  get serving (): number {
    return this.#inFlight.size
  }

  /**
   * @throws FST_PYWATT_INVALID_OPTIONS for a reserved or already served endpoint, a handler that is not a function, or a schema naming an unknown format
   */
  handle (endpoint: string, optsOrHandler: ModuleHandleOptions<TSchema, TSchema> | ModuleHandler, maybeHandler?: ModuleHandler): void {
    const handler = typeof optsOrHandler === 'function' ? optsOrHandler : maybeHandler
    const opts = typeof optsOrHandler === 'function' ? {} : optsOrHandler
    if (typeof endpoint !== 'string' || endpoint === '') throw new ERR_PYWATT_INVALID_OPTIONS('modules.handle(): the endpoint must be a non-empty string')
    if (endpoint.startsWith(RESERVED)) throw new ERR_PYWATT_INVALID_OPTIONS(`modules.handle(): the endpoint ${endpoint} is reserved (pywatt.*)`)
    if (typeof handler !== 'function') throw new ERR_PYWATT_INVALID_OPTIONS(`modules.handle(): the handler of ${endpoint} must be a function`)
    if (this.#handlers.has(endpoint)) throw new ERR_PYWATT_INVALID_OPTIONS(`modules.handle(): ${endpoint} already has a handler`)
    checkSchemaFormats(`modules.handle(${endpoint})`, opts.schema)
    this.#handlers.set(endpoint, { handler, request: opts.schema?.request, answer: opts.schema?.answer })
  }

  /** Run the handler of `request` and make its answer (never rejects). */
  async serve (request: IncomingRequest): Promise<Outcome> {
    const running = this.#run(request)
    this.#inFlight.add(running)
    try {
      return await running
    } finally {
      this.#inFlight.delete(running)
    }
  }

  /** Resolves when every handler running now has finished. */
  async settled (): Promise<void> {
    await Promise.allSettled([...this.#inFlight])
  }

  async #run (request: IncomingRequest): Promise<Outcome> {
    const builtin = this.#builtin.get(request.endpoint)
    if (builtin !== undefined) {
      try {
        return await builtin(request)
      } catch (err) {
        return thrownOutcome(err, this.#log)
      }
    }
    const registered = this.#handlers.get(request.endpoint) ?? this.#handlers.get(ANY_ENDPOINT)
    if (registered === undefined) {
      const message = request.endpoint === '' ? 'the request names no endpoint (a Rust sender\'s) and no \'*\' handler takes it' : `no handler for ${request.endpoint}`
      return { ok: false, error: { code: 'no_handler', message, statusCode: 404 } }
    }
    const problem = problemOf(registered.request, request.value)
    if (problem !== null) {
      return { ok: false, error: { code: 'invalid_payload', message: `the payload of ${request.endpoint} does not match its schema: ${problem}`, statusCode: 400 } }
    }
    const log = this.#log.child({ sourceModule: request.source, endpoint: request.endpoint, moduleRequestId: request.requestId })
    const ctx: ModuleRequestContext = { source: request.source, endpoint: request.endpoint, requestId: request.requestId, log }
    if (request.traceparent !== undefined) ctx.traceparent = request.traceparent
    if (request.tracestate !== undefined) ctx.tracestate = request.tracestate
    let value: unknown
    try {
      value = await registered.handler(request.value, ctx)
    } catch (err) {
      return thrownOutcome(err, log)
    }
    // JSON has no undefined: a handler that returns nothing answers null.
    const answer = value === undefined ? null : value
    const invalid = problemOf(registered.answer, answer)
    if (invalid !== null) {
      log.error({ problem: invalid }, 'a module request handler answered a value that does not match its answer schema')
      return { ok: false, error: { code: 'handler_error', message: NO_INTERNALS, statusCode: 500 } }
    }
    return { ok: true, value: answer }
  }
}
