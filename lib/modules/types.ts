import type { FastifyBaseLogger } from 'fastify'
import type { Static, TSchema, TUnknown } from '#typebox'

/** TypeBox schemas of an endpoint's request and answer payloads; each is checked on both sides. */
export interface ModuleSchemas<Q extends TSchema = TUnknown, A extends TSchema = TUnknown> {
  request?: Q
  answer?: A
}

/** Options of `modules.request()`. */
export interface ModuleRequestOptions<Q extends TSchema = TUnknown, A extends TSchema = TUnknown> {
  /** Milliseconds to wait for the answer (default: the `modules.timeout` option). */
  timeout?: number
  /** Abort the request: it rejects with `signal.reason` and its answer is ignored. */
  signal?: AbortSignal
  /** The caller's W3C trace context: the request continues its trace (default: a new trace). */
  traceparent?: string | undefined
  tracestate?: string | undefined
  /** The payload is checked before it is sent, the answer when it arrives (`FST_PYWATT_MODULE_PAYLOAD`). */
  schema?: ModuleSchemas<Q, A>
}

/** What a handler knows about the request it serves. */
export interface ModuleRequestContext {
  /** The module that sent it. */
  source: string
  /** The endpoint asked for (useful to a catch-all handler). */
  endpoint: string
  requestId: string
  /** The request's W3C trace context: pass it to nested requests to continue the trace. */
  traceparent?: string | undefined
  tracestate?: string | undefined
  /** A child of the app's logger naming the request. */
  log: FastifyBaseLogger
}

/** Serves one endpoint: its return value is the answer, a thrown error an error answer. */
export type ModuleHandler<Q = unknown, A = unknown> = (payload: Q, ctx: ModuleRequestContext) => A | Promise<A>

/** Options of `modules.handle()`. */
export interface ModuleHandleOptions<Q extends TSchema = TUnknown, A extends TSchema = TUnknown> {
  /** The request is checked before the handler runs (`invalid_payload`), the answer after. */
  schema?: ModuleSchemas<Q, A>
}

/** Options of `modules.fetch()`: a fetch `RequestInit` plus the request's own. */
export interface ModuleFetchInit extends RequestInit {
  timeout?: number
  traceparent?: string | undefined
  tracestate?: string | undefined
}

/** `fastify.pywatt.modules`: requests to other modules, and the endpoints this module serves them. */
export interface Modules {
  /**
   * Send `payload` to `endpoint` of module `target`; resolves with the answer.
   *
   * @throws FST_PYWATT_MODULE_TIMEOUT, FST_PYWATT_MODULE_UNKNOWN_TARGET, FST_PYWATT_MODULE_REFUSED,
   * FST_PYWATT_MODULE_UNAVAILABLE, FST_PYWATT_MODULE_CHANNEL_DOWN, FST_PYWATT_MODULE_PAYLOAD
   */
  request: <Q extends TSchema = TUnknown, A extends TSchema = TUnknown>(
    target: string, endpoint: string, payload: Static<Q>, opts?: ModuleRequestOptions<Q, A>
  ) => Promise<Static<A>>
  /**
   * An HTTP request to `target`'s own routes (hooks and auth included), as a
   * `Response`. `path` starts with `/`.
   */
  fetch: (target: string, path: string, init?: ModuleFetchInit) => Promise<Response>
  /**
   * Serve `endpoint` (`'*'`: every endpoint without a handler of its own).
   * Endpoints starting with `pywatt.` are reserved.
   */
  handle: {
    <Q extends TSchema = TUnknown, A extends TSchema = TUnknown>(endpoint: string, opts: ModuleHandleOptions<Q, A>, handler: ModuleHandler<Static<Q>, Static<A>>): void
    (endpoint: string, handler: ModuleHandler): void
  }
  /** Requests waiting for an answer, and requests of other modules being served. */
  stats: () => { pending: number, serving: number }
}
