import { randomUUID } from 'node:crypto'
import { ERR_PYWATT_MODULE_PAYLOAD } from '../errors.js'
import {
  encodeEnvelope, encodedMessageValue,
  type EncodedMessage, type ModuleMessage, type OrchestratorMessage
} from '../protocol/index.js'

/*
 * The module-to-module wire format, in one place (docs/modules.md).
 *
 * What the protocol fixes (docs/protocol.md §12): a request is `route_to_module`
 * whose `payload.data` is the UTF-8 JSON of a second envelope around the
 * request value; the target receives `routed_module_message`; the caller
 * receives `routed_module_response`, correlated by `request_id`.
 *
 * What it leaves open, and what this file assumes (the answer path):
 * - `routed_module_message` carries no endpoint, so the inner envelope names it
 *   in `metadata.properties.endpoint` (with `traceparent` and `tracestate`). A
 *   request that names none is a Rust sender's: it goes to the catch-all
 *   handler, and its `ok` answer is the bare value, which is what a Rust caller
 *   decodes.
 * - A module answers by sending `route_to_module` back to the caller, with
 *   `target_endpoint` = {@link ANSWER_ENDPOINT} and `request_id` = the
 *   request's `original_request_id`. The orchestrator turns it into the
 *   `routed_module_response` the caller awaits (pywatt-dev does); an
 *   orchestrator that delivers it unchanged, as a `routed_module_message`, is
 *   understood too.
 * - The answer's `payload.data` is an envelope whose
 *   `metadata.properties.status` is `ok` (its content is the value) or `error`
 *   (its content is a {@link WireError}). A payload that is not such an envelope
 *   is a Rust-style bare value: an `ok` answer.
 * - The orchestrator answers a request it cannot deliver itself, with an
 *   `error` answer whose code is `unknown_target` or `unavailable`.
 * - Bytes (a `Uint8Array` value, request or `ok` answer) travel as a base64
 *   string content with `metadata.properties.encoding` = `base64`, and are
 *   read back as a `Buffer`.
 *
 * Switching the answer path to what a real orchestrator does means changing
 * this file (and the router of pywatt-dev, which uses the same functions).
 */

/** The `target_endpoint` of an answer. */
export const ANSWER_ENDPOINT = 'pywatt.answer'

/** The endpoint that serves a module's HTTP routes to other modules (`modules.fetch`). */
export const FETCH_ENDPOINT = 'pywatt.http'

/** Error codes the orchestrator puts in answers it makes itself. */
export type OrchestratorErrorCode = 'unknown_target' | 'unavailable'

/** An error answer: `code` is the target's (or {@link OrchestratorErrorCode}). */
export interface WireError {
  code: string
  message: string
  statusCode?: number
}

/** How an answer came out. */
export type Outcome = { ok: true, value: unknown } | { ok: false, error: WireError }

/** A request as the target reads it. */
export interface IncomingRequest {
  source: string
  requestId: string
  /** `''` when the sender named none (a Rust sender). */
  endpoint: string
  value: unknown
  traceparent?: string
  tracestate?: string
}

/** An answer as the caller reads it. */
export interface IncomingAnswer {
  /** The module that answered (or the target the orchestrator answered for). */
  source: string
  requestId: string
  outcome: Outcome
}

/** What a request carries besides its value. */
export interface RequestContext {
  traceparent?: string
  tracestate?: string
}

type RouteToModule = Extract<ModuleMessage, { op: 'route_to_module' }>
type RoutedMessage = Extract<OrchestratorMessage, { op: 'routed_module_message' }>
type RoutedResponse = Extract<OrchestratorMessage, { op: 'routed_module_response' }>

/** `value` as the bytes of a `Json` EncodedMessage: the UTF-8 JSON of an envelope around it. */
function payloadOf (value: unknown, properties: Record<string, unknown>): { data: Buffer, format: 'Json' } {
  let text: string
  try {
    text = value instanceof Uint8Array
      ? encodeEnvelope(Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64'), { properties: { ...properties, encoding: 'base64' } })
      : encodeEnvelope(value, { properties })
  } catch (err) {
    throw new ERR_PYWATT_MODULE_PAYLOAD((err as Error).message)
  }
  return { data: Buffer.from(text, 'utf8'), format: 'Json' }
}

/**
 * The `route_to_module` of a request: what a Rust sender writes, with the
 * endpoint and trace context also in the inner envelope's properties.
 *
 * @throws ERR_PYWATT_MODULE_PAYLOAD when `value` cannot be written as JSON
 */
export function encodeRequest (target: string, endpoint: string, value: unknown, context: RequestContext = {}, requestId: string = randomUUID()): RouteToModule {
  const properties: Record<string, unknown> = { endpoint }
  if (context.traceparent !== undefined) properties.traceparent = context.traceparent
  if (context.tracestate !== undefined) properties.tracestate = context.tracestate
  return { op: 'route_to_module', target_module_id: target, target_endpoint: endpoint, request_id: requestId, payload: payloadOf(value, properties) as never }
}

/**
 * The `route_to_module` that answers `request` (sent to its source).
 *
 * @throws ERR_PYWATT_MODULE_PAYLOAD when an `ok` value cannot be written as JSON
 */
export function encodeAnswer (to: string, requestId: string, outcome: Outcome, bare = false): RouteToModule {
  const payload = !outcome.ok
    ? payloadOf(errorContent(outcome.error), { status: 'error' })
    : bare ? bareValue(outcome.value) : payloadOf(outcome.value, { status: 'ok' })
  return { op: 'route_to_module', target_module_id: to, target_endpoint: ANSWER_ENDPOINT, request_id: requestId, payload: payload as never }
}

/** An `ok` answer for a Rust caller, which decodes `payload.data` as the value itself. */
function bareValue (value: unknown): { data: Buffer, format: 'Json' } {
  try {
    const data = Buffer.from(JSON.stringify(value instanceof Uint8Array ? Buffer.from(value).toString('base64') : value), 'utf8')
    return { data, format: 'Json' }
  } catch (err) {
    throw new ERR_PYWATT_MODULE_PAYLOAD((err as Error).message)
  }
}

function errorContent (error: WireError): WireError {
  return error.statusCode === undefined ? { code: error.code, message: error.message } : { code: error.code, message: error.message, statusCode: error.statusCode }
}

/** True for a `route_to_module` that is an answer, not a request. */
export function isAnswer (message: { target_endpoint: string }): boolean {
  return message.target_endpoint === ANSWER_ENDPOINT
}

interface Unwrapped { value: unknown, properties: Record<string, unknown> | null }

/** The inner envelope's content and properties, or the bare value (a Rust sender's answer). */
function unwrap (payload: { data: ArrayLike<number>, format: string }): Unwrapped {
  let value: unknown
  try {
    value = encodedMessageValue(payload)
  } catch (err) {
    throw new ERR_PYWATT_MODULE_PAYLOAD((err as Error).message)
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && 'id' in value && 'content' in value) {
    const metadata = (value as { metadata?: unknown }).metadata
    const properties = metadata !== null && typeof metadata === 'object'
      ? (metadata as { properties?: unknown }).properties
      : undefined
    const props = properties !== null && typeof properties === 'object' && !Array.isArray(properties) ? properties as Record<string, unknown> : {}
    const content = (value as { content: unknown }).content
    if (props.encoding === 'base64') {
      if (typeof content !== 'string') throw new ERR_PYWATT_MODULE_PAYLOAD('a base64-encoded content is not a string')
      return { value: Buffer.from(content, 'base64'), properties: props }
    }
    return { value: content, properties: props }
  }
  return { value, properties: null }
}

function stringProperty (properties: Record<string, unknown> | null, name: string): string | undefined {
  const value = properties?.[name]
  return typeof value === 'string' ? value : undefined
}

/** True for the payload of an answer: a status, and no endpoint. */
function carriesAnswer (properties: Record<string, unknown> | null): boolean {
  return stringProperty(properties, 'status') !== undefined && stringProperty(properties, 'endpoint') === undefined
}

function requestOf (message: RoutedMessage, { value, properties }: Unwrapped): IncomingRequest {
  const request: IncomingRequest = { source: message.source_module_id, requestId: message.original_request_id, endpoint: stringProperty(properties, 'endpoint') ?? '', value }
  const traceparent = stringProperty(properties, 'traceparent')
  const tracestate = stringProperty(properties, 'tracestate')
  if (traceparent !== undefined) request.traceparent = traceparent
  if (tracestate !== undefined) request.tracestate = tracestate
  return request
}

function answerOf (source: string, requestId: string, { value, properties }: Unwrapped): IncomingAnswer {
  if (stringProperty(properties, 'status') === 'error') return { source, requestId, outcome: { ok: false, error: wireError(value) } }
  return { source, requestId, outcome: { ok: true, value } }
}

/**
 * Read a `routed_module_message`, once: the request it is, or the answer it
 * carries (an orchestrator that forwards answers unchanged).
 *
 * @throws ERR_PYWATT_MODULE_PAYLOAD when the payload is not JSON
 */
export function decodeRouted (message: RoutedMessage): { request: IncomingRequest } | { answer: IncomingAnswer } {
  const unwrapped = unwrap(message.payload)
  return carriesAnswer(unwrapped.properties)
    ? { answer: answerOf(message.source_module_id, message.original_request_id, unwrapped) }
    : { request: requestOf(message, unwrapped) }
}

/**
 * Read a `routed_module_message` as a request (`null` when it is an answer
 * delivered unchanged, see {@link decodeAnswer}).
 *
 * @throws ERR_PYWATT_MODULE_PAYLOAD when the payload is not JSON
 */
export function decodeRequest (message: RoutedMessage): IncomingRequest | null {
  const routed = decodeRouted(message)
  return 'request' in routed ? routed.request : null
}

/**
 * Read an answer: a `routed_module_response`, or a `routed_module_message`
 * that carries one. Returns `null` for a `routed_module_message` that is a request.
 *
 * @throws ERR_PYWATT_MODULE_PAYLOAD when the payload is not JSON
 */
export function decodeAnswer (message: RoutedResponse | RoutedMessage): IncomingAnswer | null {
  if (message.op === 'routed_module_message') {
    const routed = decodeRouted(message)
    return 'answer' in routed ? routed.answer : null
  }
  return answerOf(message.source_module_id, message.request_id, unwrap(message.payload))
}

function wireError (value: unknown): WireError {
  const v = (value !== null && typeof value === 'object' ? value : {}) as Record<string, unknown>
  const error: WireError = {
    code: typeof v.code === 'string' ? v.code : 'error',
    message: typeof v.message === 'string' ? v.message : 'the target answered with an error it did not describe'
  }
  if (typeof v.statusCode === 'number' && Number.isInteger(v.statusCode)) error.statusCode = v.statusCode
  return error
}

// ---------------------------------------------------------------------------
// The orchestrator's side (pywatt-dev's router)
// ---------------------------------------------------------------------------

/** What the target receives for a request `from` sent. */
export function routedRequest (from: string, request: RouteToModule): RoutedMessage {
  return { op: 'routed_module_message', source_module_id: from, original_request_id: request.request_id, payload: request.payload as EncodedMessage }
}

/** What the caller receives for an answer `from` sent. */
export function routedAnswer (from: string, answer: RouteToModule): RoutedResponse {
  return { op: 'routed_module_response', source_module_id: from, request_id: answer.request_id, payload: answer.payload as EncodedMessage }
}

/** The answer the orchestrator makes itself when it cannot deliver `request` to `target`. */
export function orchestratorAnswer (target: string, requestId: string, code: OrchestratorErrorCode, message: string): RoutedResponse {
  const { payload } = encodeAnswer(target, requestId, { ok: false, error: { code, message } })
  return { op: 'routed_module_response', source_module_id: target, request_id: requestId, payload: payload as EncodedMessage }
}
