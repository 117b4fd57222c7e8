import { EventEmitter } from 'node:events'
import { validateHeaderName, validateHeaderValue, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http'
import { Readable, Writable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { kTransport, type IpcTransport } from '../http/transport.js'
import { kRequestId } from '../http/request-id.js'

/** What a dispatched request produced. */
export interface DispatchResult {
  statusCode: number
  headers: OutgoingHttpHeaders
  body: Buffer
}

/** One request in the shape a dispatcher takes. */
export interface DispatchRequest {
  method: string
  url: string
  headers: IncomingHttpHeaders
  remoteAddress: string
  body: Buffer | undefined
  /** The way it came in, readable from `request.raw` (lib/http/transport.ts). */
  transport: IpcTransport
  /** The orchestrator's `request_id`: Fastify's `request.id` (lib/http/request-id.ts). */
  requestId: string
  /**
   * Set by the lean dispatcher: the request stream the routes see. Destroying
   * it emits `close`, which aborts Fastify's `request.signal`.
   */
  raw?: Readable
}

/** The socket Fastify and hooks may look at; there is no connection behind it. */
class IpcSocket extends EventEmitter {
  readonly remoteAddress: string
  readonly remotePort = 0
  readonly remoteFamily = 'IPC'
  readonly encrypted = false
  readonly destroyed = false
  readonly writable = true
  constructor (remoteAddress: string) {
    super()
    this.remoteAddress = remoteAddress
  }

  setTimeout (): this { return this }
  setKeepAlive (): this { return this }
  setNoDelay (): this { return this }
  destroy (): this { return this }
}

/** `req` for Fastify: a readable body plus the fields of an `IncomingMessage` it reads. */
class IpcRequest extends Readable {
  readonly method: string
  url: string
  readonly headers: IncomingHttpHeaders
  readonly rawHeaders: string[] = []
  readonly httpVersion = '1.1'
  readonly httpVersionMajor = 1
  readonly httpVersionMinor = 1
  readonly socket: IpcSocket
  readonly aborted = false
  complete = false
  readonly [kTransport]: IpcTransport
  readonly [kRequestId]: string
  #body: Buffer | undefined

  constructor (req: DispatchRequest) {
    // As Node's IncomingMessage: `close` means the request was abandoned, not that its body was read.
    super({ autoDestroy: false })
    this.method = req.method
    this.url = req.url
    this.headers = req.headers
    this.socket = new IpcSocket(req.remoteAddress)
    this[kTransport] = req.transport
    this[kRequestId] = req.requestId
    this.#body = req.body
  }

  get connection (): IpcSocket {
    return this.socket
  }

  override _read (): void {
    if (this.#body !== undefined && this.#body.length > 0) this.push(this.#body)
    this.#body = undefined
    this.complete = true
    this.push(null)
  }
}

/**
 * Node's checks of a response header (ERR_INVALID_HTTP_TOKEN, ERR_INVALID_CHAR):
 * what cannot go out over HTTP does not go out over IPC either.
 */
function validateHeader (name: string, value: number | string | readonly string[]): void {
  validateHeaderName(name)
  for (const v of Array.isArray(value) ? value : [value]) validateHeaderValue(name, String(v))
}

/** `res` for Fastify: collects the status, headers and body instead of writing HTTP. */
class IpcResponse extends Writable {
  statusCode = 200
  statusMessage = ''
  headersSent = false
  sendDate = false
  readonly req: IpcRequest
  readonly socket: IpcSocket
  readonly #headers = new Map<string, { name: string, value: number | string | string[] }>()
  readonly #chunks: Buffer[] = []
  readonly #noBody: boolean

  constructor (req: IpcRequest) {
    super()
    this.req = req
    this.socket = req.socket
    this.#noBody = req.method === 'HEAD'
  }

  get connection (): IpcSocket {
    return this.socket
  }

  /** Throws as Node's `setHeader` does for a name that is not a token or a value with a forbidden character (CR, LF…). */
  setHeader (name: string, value: number | string | readonly string[]): this {
    validateHeader(name, value)
    this.#headers.set(name.toLowerCase(), { name, value: Array.isArray(value) ? [...value] : value as number | string })
    return this
  }

  getHeader (name: string): number | string | string[] | undefined {
    return this.#headers.get(name.toLowerCase())?.value
  }

  getHeaders (): OutgoingHttpHeaders {
    const out: OutgoingHttpHeaders = {}
    for (const [key, { value }] of this.#headers) out[key] = value
    return out
  }

  getHeaderNames (): string[] {
    return [...this.#headers.keys()]
  }

  hasHeader (name: string): boolean {
    return this.#headers.has(name.toLowerCase())
  }

  removeHeader (name: string): void {
    this.#headers.delete(name.toLowerCase())
  }

  writeHead (statusCode: number, reason?: string | OutgoingHttpHeaders, headers?: OutgoingHttpHeaders): this {
    this.statusCode = statusCode
    const all = typeof reason === 'string' ? headers : reason
    if (typeof reason === 'string') this.statusMessage = reason
    if (all !== undefined) {
      const entries = Object.entries(all).filter((e): e is [string, number | string | string[]] => e[1] !== undefined)
      // As Node: one bad header and none is set, so Fastify's error path can answer 500 without them.
      for (const [name, value] of entries) validateHeader(name, value)
      for (const [name, value] of entries) this.setHeader(name, value)
    }
    this.headersSent = true
    return this
  }

  flushHeaders (): void {
    this.headersSent = true
  }

  writeEarlyHints (): void {}
  addTrailers (): void {}

  override _write (chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.headersSent = true
    if (!this.#noBody) this.#chunks.push(chunk)
    callback()
  }

  /** Status, headers and body once the response ended. */
  result (): DispatchResult {
    const status = this.statusCode
    // As Node's server: no body for HEAD, 204 and 304.
    const body = status === 204 || status === 304 ? Buffer.alloc(0) : Buffer.concat(this.#chunks)
    return { statusCode: status, headers: this.getHeaders(), body }
  }
}

/**
 * Hands a request straight to Fastify's router (`app.routing`) with a minimal
 * request/response pair: the full lifecycle (hooks, validation, serialization,
 * error handler, streams, `reply.hijack`) without `inject()`'s option checks,
 * fake HTTP serialization and socket emulation. Resolves once the response
 * ended; rejects if it was destroyed first (the handler or a hook aborted it).
 */
export function dispatchLean (app: FastifyInstance, request: DispatchRequest): Promise<DispatchResult> {
  const req = new IpcRequest(request)
  request.raw = req
  const res = new IpcResponse(req)
  return new Promise((resolve, reject) => {
    res.once('finish', () => resolve(res.result()))
    res.once('close', () => {
      if (!res.writableFinished) reject(new Error('the response was destroyed before it ended'))
    })
    app.routing(req as never, res as never)
  })
}
