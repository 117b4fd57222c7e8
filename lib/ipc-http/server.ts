import { Readable } from 'node:stream'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { HttpReply, HttpRequestMessage } from '../protocol/index.js'
import { remoteAddressOf, requestHeaders, responseHeaders, type TrustFn } from './headers.js'
import { dispatchLean, type DispatchRequest, type DispatchResult } from './lean-dispatch.js'
import { requestProblem } from './request-check.js'
import { kTransport, type IpcTransport } from '../http/transport.js'
import { kRequestId } from '../http/request-id.js'

/** Options of {@link IpcHttpServer}. */
export interface IpcHttpServerOptions {
  /** Requests served at once; the rest wait in arrival order. */
  concurrency: number
  /** How long `close()` waits for requests in flight, in milliseconds. */
  drainTimeout: number
  /**
   * `lean` hands requests straight to Fastify's router; `inject` goes through
   * `app.inject()` (light-my-request), slower, kept as a fallback.
   */
  dispatcher: 'lean' | 'inject'
  /** Milliseconds a request may run before it is answered 504 and its work aborted; `0` = no bound. */
  requestTimeout: number
  /** Requests that may wait for a slot; past them, 503 at once. */
  maxQueued: number
  /** Whether the process is too loaded to take a new request (503 at once). */
  overloaded?: () => boolean
  /** Which `x-forwarded-for` hops are trusted proxies, for `request.ip` (default: the orchestrator alone). */
  trust?: TrustFn
}

// light-my-request's request inherits from the `Request` class it is given: the mark comes from its prototype.
function markedRequestClass (transport: IpcTransport): typeof Readable {
  class Marked extends Readable {}
  Object.defineProperty(Marked.prototype, kTransport, { value: transport })
  return Marked
}
const INJECT_REQUEST: Record<IpcTransport, typeof Readable> = { stdio: markedRequestClass('stdio'), tcp: markedRequestClass('tcp'), unix: markedRequestClass('unix') }

async function dispatchInject (app: FastifyInstance, request: DispatchRequest): Promise<DispatchResult> {
  // The request id differs per request: a class of its own, on the transport's.
  class WithId extends INJECT_REQUEST[request.transport] {}
  Object.defineProperty(WithId.prototype, kRequestId, { value: request.requestId })
  const res = await app.inject({
    Request: WithId,
    method: request.method as 'GET',
    url: request.url,
    headers: request.headers,
    remoteAddress: request.remoteAddress,
    ...(request.body === undefined ? {} : { payload: request.body })
  })
  return { statusCode: res.statusCode, headers: res.headers, body: res.rawPayload }
}

const ORCHESTRATOR_ONLY: TrustFn = (_addr, i) => i < 1

/** Delivers one reply to where its request came from. */
export type ReplySink = (reply: HttpReply) => void

/** A request between its start and its reply (or its timeout). */
interface Flight {
  readonly id: string
  timer: NodeJS.Timeout | undefined
  /** Replied to, or timed out: its slot is free. */
  done: boolean
  request: DispatchRequest | undefined
}

interface Queued {
  req: HttpRequestMessage
  sink: ReplySink
  transport: IpcTransport
}

/**
 * The `request_id` of a line that failed to decode, if it can be answered:
 * the line is a JSON object with `op: "http_request"` and a string id that
 * can be written back. Anything else (`null`, an array, a missing or non-string
 * id, an id with a lone surrogate, which `JSON.parse` lets through and no
 * encoder writes) has nobody to answer: `null`.
 */
function readableRequestId (line: string): string | null {
  let parsed: unknown
  try {
    parsed = JSON.parse(line)
  } catch {
    return null
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null
  const { op, request_id: id } = parsed as Record<string, unknown>
  return op === 'http_request' && typeof id === 'string' && isWellFormed(id) ? id : null
}

// ES2024 API, present on every supported Node; the TypeScript lib in use predates it.
function isWellFormed (s: string): boolean {
  return (s as unknown as { isWellFormed: () => boolean }).isWellFormed()
}

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8' }
// A refusal under load: the orchestrator may try again shortly, here or elsewhere.
const RETRY_HEADERS = { ...JSON_HEADERS, 'retry-after': '1' }
// The body of a 500 when the module fails to answer; the reason is logged, not sent.
const FAILED = { error: 'the module failed to answer this request' }

/**
 * Serves `http_request` messages with the app's real routes and answers each
 * with exactly one `{content, metadata}` reply (docs/protocol.md §9).
 *
 * Requests start in arrival order, at most `concurrency` at a time; replies go
 * out as requests complete. A second request with the id of one still waiting
 * or running is logged and ignored: a reply carries only the id, so answering
 * it would hand the orchestrator two replies for one id.
 */
export class IpcHttpServer {
  readonly #app: FastifyInstance
  readonly #send: ReplySink
  readonly #log: FastifyBaseLogger
  readonly #opts: IpcHttpServerOptions
  readonly #trust: TrustFn
  readonly #queue: Queued[] = []
  readonly #ids = new Set<string>()
  #active = 0
  /** Set while closing with requests running: called when the last one ends. */
  #drained: (() => void) | null = null
  #started = false
  #closing = false
  /** Replies sent, by outcome. */
  readonly stats = { served: 0, badRequest: 0, failed: 0, unavailable: 0, duplicates: 0, timedOut: 0, shed: 0 }

  /**
   * @param send where replies to stdio requests go (the `{content, metadata}` line);
   * requests from other channels bring their own sink
   */
  constructor (app: FastifyInstance, send: ReplySink, log: FastifyBaseLogger, opts: IpcHttpServerOptions) {
    this.#app = app
    this.#send = send
    this.#log = log
    this.#opts = opts
    this.#trust = opts.trust ?? ORCHESTRATOR_ONLY
  }

  /** Requests waiting for a free slot. */
  get queued (): number {
    return this.#queue.length
  }

  /** Requests running now. */
  get inFlight (): number {
    return this.#active
  }

  /**
   * Accept one request; before `start()` it waits (the app is not ready).
   * `transport` is the way it came in, marked on the request the routes see.
   */
  handle (req: HttpRequestMessage, sink: ReplySink = this.#send, transport: IpcTransport = 'stdio'): void {
    if (this.#closing) {
      this.stats.unavailable++
      this.#reply(sink, req.request_id, 503, { error: 'the module is shutting down' })
      return
    }
    if (this.#ids.has(req.request_id)) {
      this.stats.duplicates++
      this.#log.error({ requestId: req.request_id }, 'ignored an http_request whose request_id is already in flight')
      return
    }
    const refusal = this.#refusal()
    if (refusal !== null) {
      this.stats.shed++
      this.#reply(sink, req.request_id, 503, { error: refusal }, RETRY_HEADERS)
      return
    }
    this.#ids.add(req.request_id)
    this.#queue.push({ req, sink, transport })
    this.#pump()
  }

  /** Why a new request is turned away at once, or `null` to take it. */
  #refusal (): string | null {
    if (this.#opts.overloaded?.() === true) return 'the module is overloaded (event loop delay)'
    const waits = !this.#started || this.#active >= this.#opts.concurrency
    if (waits && this.#queue.length >= this.#opts.maxQueued) return `the module is at capacity (${this.#active} running, ${this.#queue.length} waiting)`
    return null
  }

  /**
   * A line that failed to decode: if it is an `http_request` whose id can be
   * read, answer 400 naming the problem; otherwise there is nobody to answer.
   */
  handleInvalid (line: string, err: Error, sink: ReplySink = this.#send): void {
    const id = readableRequestId(line)
    if (id === null || this.#ids.has(id)) return
    this.stats.badRequest++
    this.#reply(sink, id, 400, { error: err.message })
  }

  /** Start serving (the app is ready). */
  start (): void {
    this.#started = true
    this.#pump()
  }

  /**
   * Stop taking requests: those still waiting get 503, those running finish
   * within the drain deadline. Resolves `false` if the deadline passed.
   */
  async close (): Promise<boolean> {
    this.#closing = true
    for (const { req, sink } of this.#queue.splice(0)) {
      this.#ids.delete(req.request_id)
      this.stats.unavailable++
      this.#reply(sink, req.request_id, 503, { error: 'the module is shutting down' })
    }
    if (this.#active === 0) return true
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<false>((resolve) => { timer = setTimeout(resolve, this.#opts.drainTimeout, false) })
    const drained = new Promise<true>((resolve) => { this.#drained = () => resolve(true) })
    const result = await Promise.race([drained, deadline])
    clearTimeout(timer)
    return result
  }

  #pump (): void {
    while (this.#started && !this.#closing && this.#active < this.#opts.concurrency && this.#queue.length > 0) {
      const { req, sink, transport } = this.#queue.shift() as Queued
      this.#active++
      // #serve settles every outcome itself and never rejects.
      this.#serve(req, sink, transport)
    }
  }

  // One async frame per request, its bookkeeping in `#release`: no promise chained onto it.
  async #serve (req: HttpRequestMessage, sink: ReplySink, transport: IpcTransport): Promise<void> {
    const flight: Flight = { id: req.request_id, timer: undefined, done: false, request: undefined }
    if (this.#opts.requestTimeout > 0) flight.timer = setTimeout(() => this.#timeOut(flight, sink), this.#opts.requestTimeout)
    try {
      const problem = requestProblem(req.method, req.uri, req.headers)
      if (problem !== null) {
        this.stats.badRequest++
        this.#reply(sink, req.request_id, 400, { error: problem })
        return
      }
      const headers = requestHeaders(req.headers)
      const body = req.body
      // Fastify reads a body only when its length is declared.
      if (body !== undefined) headers['content-length'] = String(body.length)
      const request: DispatchRequest = { method: req.method, url: req.uri, headers, remoteAddress: remoteAddressOf(headers, this.#trust), body, transport, requestId: req.request_id }
      flight.request = request
      let res: DispatchResult
      try {
        res = this.#opts.dispatcher === 'lean' ? await dispatchLean(this.#app, request) : await dispatchInject(this.#app, request)
      } catch (err) {
        // Answered 504 already: what the aborted work did next is nobody's reply.
        if (flight.done) return
        const closing = (err as { code?: string }).code === 'FST_ERR_REOPENED_CLOSE_SERVER'
        if (closing) this.stats.unavailable++
        else this.stats.failed++
        this.#log.error({ err, requestId: req.request_id }, 'an http_request could not be dispatched')
        // inject() refuses bad request lines (400); a destroyed response is the module's failure (500).
        const status = closing ? 503 : this.#opts.dispatcher === 'inject' ? 400 : 500
        this.#reply(sink, req.request_id, status, { error: closing ? 'the module is shutting down' : (err as Error).message })
        return
      }
      if (flight.done) {
        this.#log.warn({ requestId: req.request_id, statusCode: res.statusCode }, 'a timed-out http_request finished late: its reply was dropped')
        return
      }
      const sent = this.#deliver(sink, {
        request_id: req.request_id,
        status_code: res.statusCode,
        headers: responseHeaders(res.headers),
        body: res.body
      })
      if (sent) this.stats.served++
      else this.stats.failed++
    } catch (err) {
      // Replies never throw (#deliver), so no reply went out: the orchestrator is still owed one.
      if (flight.done) return
      this.stats.failed++
      this.#log.error({ err, requestId: req.request_id }, 'an http_request could not be served')
      this.#reply(sink, req.request_id, 500, FAILED)
    } finally {
      this.#release(flight)
    }
  }

  /**
   * The request ran past `requestTimeout`: answer 504, free its slot, and
   * destroy its request stream so that `request.signal` aborts the handler's
   * work (the lean dispatcher's; light-my-request ignores a destroy once the
   * body was read). Whatever it produces later is dropped.
   */
  #timeOut (flight: Flight, sink: ReplySink): void {
    this.stats.timedOut++
    this.#log.error({ requestId: flight.id, requestTimeout: this.#opts.requestTimeout }, 'an http_request ran past requestTimeout: answered 504')
    this.#reply(sink, flight.id, 504, { error: `the module did not answer within ${this.#opts.requestTimeout} ms` })
    this.#release(flight)
    flight.request?.raw?.destroy()
  }

  /** Once per request, at its reply or its timeout: its slot and its id are free again. */
  #release (flight: Flight): void {
    if (flight.done) return
    flight.done = true
    clearTimeout(flight.timer)
    this.#active--
    this.#ids.delete(flight.id)
    if (this.#active === 0) this.#drained?.()
    this.#pump()
  }

  #reply (sink: ReplySink, id: string, status: number, body: { error: string }, headers: Record<string, string> = JSON_HEADERS): void {
    this.#deliver(sink, {
      request_id: id,
      status_code: status,
      headers,
      body: Buffer.from(JSON.stringify(body))
    })
  }

  /**
   * Hand one reply to its sink; never throws. A reply the sink refuses (one
   * that cannot be encoded: a status or header the wire cannot carry) is
   * logged with the reason and answered 500 instead, so that the orchestrator
   * is not left waiting. Sinks swallow a closed channel themselves: what
   * reaches here is a reply that could not go out. Returns whether it went out.
   */
  #deliver (sink: ReplySink, reply: HttpReply): boolean {
    try {
      sink(reply)
      return true
    } catch (err) {
      this.#log.error({ err, requestId: reply.request_id }, 'an HTTP-over-IPC reply could not be sent: answering 500 instead')
    }
    try {
      sink({ request_id: reply.request_id, status_code: 500, headers: JSON_HEADERS, body: Buffer.from(JSON.stringify(FAILED)) })
    } catch (err) {
      this.#log.error({ err, requestId: reply.request_id }, 'an HTTP-over-IPC reply could not be sent')
    }
    return false
  }
}
