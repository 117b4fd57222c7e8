import type { FastifyInstance } from 'fastify'
import { Type, type Static } from '#typebox'
import { ERR_PYWATT_MODULE_PAYLOAD } from '../errors.js'
import { problemOf } from './schema-check.js'
import type { Outcome } from './wire.js'

/*
 * `modules.fetch()`: an HTTP request to another module's routes, carried as a
 * module-to-module request to the `pywatt.http` endpoint (wire.ts
 * FETCH_ENDPOINT) and served there with `app.inject`, so the target's hooks
 * and auth apply. Bodies travel as base64 in the JSON payload.
 */

/** The request payload of `pywatt.http`. */
export const FetchRequestSchema = Type.Object({
  method: Type.String({ minLength: 1 }),
  url: Type.String({ pattern: '^/' }),
  headers: Type.Record(Type.String(), Type.String()),
  body: Type.Optional(Type.String())
})

/** The answer of `pywatt.http`. */
export const FetchAnswerSchema = Type.Object({
  status: Type.Integer({ minimum: 200, maximum: 599 }),
  headers: Type.Record(Type.String(), Type.Union([Type.String(), Type.Array(Type.String())])),
  body: Type.String()
})

export type FetchRequest = Static<typeof FetchRequestSchema>
export type FetchAnswer = Static<typeof FetchAnswerSchema>

// Said by a connection, not by the response: they mean nothing once carried in JSON.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length'])
const NULL_BODY = new Set([204, 205, 304])
const BASE = 'http://module.invalid'

/**
 * The `pywatt.http` payload of a fetch of `path` with `init`.
 *
 * @throws FST_PYWATT_MODULE_PAYLOAD when `path` is not an absolute path, or `init` is one fetch() refuses
 */
export async function fetchRequest (path: string, init: RequestInit = {}): Promise<FetchRequest> {
  if (typeof path !== 'string' || !path.startsWith('/') || path.startsWith('//')) {
    throw new ERR_PYWATT_MODULE_PAYLOAD(`modules.fetch(): the path must start with a single / (got ${JSON.stringify(path)})`)
  }
  // Request does what fetch does with init: method and header checks, the body's type and content-type.
  let request: Request
  try {
    // The signal belongs to the module request, not to this stand-in.
    request = new Request(new URL(path, BASE), { ...init, signal: null })
  } catch (err) {
    // What fetch() would refuse: a GET with a body, a bad method or header.
    throw new ERR_PYWATT_MODULE_PAYLOAD(`modules.fetch(): ${(err as Error).message}`)
  }
  const url = new URL(request.url)
  const body = request.body === null ? null : Buffer.from(await request.arrayBuffer())
  const payload: FetchRequest = { method: request.method, url: url.pathname + url.search, headers: Object.fromEntries(request.headers) }
  if (body !== null) payload.body = body.toString('base64')
  return payload
}

/** Serve a `pywatt.http` request with the app's own routes. */
export async function serveFetch (app: FastifyInstance, source: string, value: unknown): Promise<Outcome> {
  const problem = problemOf(FetchRequestSchema, value)
  if (problem !== null) return { ok: false, error: { code: 'invalid_payload', message: `not a pywatt.http request: ${problem}`, statusCode: 400 } }
  const req = value as FetchRequest
  const res = await app.inject({
    method: req.method as 'GET',
    url: req.url,
    headers: req.headers,
    ...(req.body === undefined ? {} : { payload: Buffer.from(req.body, 'base64') }),
    remoteAddress: `module:${source}`
  })
  const headers: FetchAnswer['headers'] = {}
  for (const [name, v] of Object.entries(res.headers)) {
    if (v === undefined || HOP_BY_HOP.has(name)) continue
    headers[name] = Array.isArray(v) ? v.map(String) : String(v)
  }
  return { ok: true, value: { status: res.statusCode, headers, body: res.rawPayload.toString('base64') } satisfies FetchAnswer }
}

/**
 * The `Response` of a `pywatt.http` answer.
 *
 * @throws FST_PYWATT_MODULE_PAYLOAD when the answer is not one
 */
export function fetchResponse (target: string, value: unknown): Response {
  const problem = problemOf(FetchAnswerSchema, value)
  if (problem !== null) throw new ERR_PYWATT_MODULE_PAYLOAD(`module ${target} did not answer pywatt.http with a response: ${problem}`)
  const answer = value as FetchAnswer
  const headers = new Headers()
  for (const [name, v] of Object.entries(answer.headers)) {
    for (const one of Array.isArray(v) ? v : [v]) headers.append(name, one)
  }
  const body = NULL_BODY.has(answer.status) ? null : Buffer.from(answer.body, 'base64')
  return new Response(body, { status: answer.status, headers })
}
