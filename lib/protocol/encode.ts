import { randomUUID } from 'node:crypto'
import { ERR_PYWATT_ENCODE } from '../errors.js'
import { bytesToJsonArray, bytesToJsonArrayBuffer, type ByteInput } from './bytes.js'
import { isSocketAddress } from './listen-address.js'
import { isUuid, normaliseUuid } from './uuid.js'
import type {
  EncodedMessage, EndpointAnnounce, HttpTcpRequest, HttpTcpResponse, InitBlob, MessageMetadata,
  ModuleMessageOrIdentify, OrchestratorMessage, RegistrationProtocolRequest, ServiceProviderInfo, StreamChunk
} from './schemas.js'

/**
 * Encoders that produce exactly what the Rust SDK puts on the wire (docs/protocol.md §2.1): compact
 * JSON without a trailing newline, `op` first and then Rust's struct field
 * order, `null` versus omitted per field as serde does it, bytes as number
 * arrays, UUIDs hyphenated lower case.
 *
 * Inputs are checked as they are written (types, u16 ranges, byte values, UUID
 * syntax, lone surrogates that no Rust reader would accept), so JS callers
 * cannot produce a line the orchestrator rejects. Errors are `ERR_PYWATT_ENCODE`.
 */

/** `T` with every byte array (`number[]`) also accepted as a `Uint8Array`/`Buffer`. */
export type Encodable<T> = T extends number[] | Uint8Array
  ? ByteInput
  : T extends object ? { [K in keyof T]: Encodable<T[K]> } : T

/** The HTTP reply the stdio wrapper carries (docs/protocol.md §9.2). `body` may be raw bytes; absent means empty. */
export interface HttpReply {
  request_id: string
  status_code: number
  /** One value per name; Rust sends lower-case names (the http crate's). */
  headers: Readonly<Record<string, string>>
  body?: ByteInput | null
}

// A JSON fragment, or undefined to omit the key.
type Entry = readonly [key: string, json: string | undefined]

// JSON.stringify escapes a lone surrogate as `\udXXX`; a real backslash before
// `u` would itself be escaped, hence the even run of backslashes.
const LONE_SURROGATE = /(?<!\\)(?:\\\\)*\\ud[89a-f][0-9a-f]{2}/

/**
 * Encode a module → orchestrator message (docs/protocol.md §4.1).
 *
 * @throws ERR_PYWATT_ENCODE for `identify`, which Rust cannot serialise
 * either (docs/protocol.md §4.4), for an unknown `op` and for invalid field values
 */
export function encodeModuleMessage (message: Encodable<ModuleMessageOrIdentify>): string {
  const m = message as unknown as Record<string, unknown>
  switch (m.op) {
    case 'announce':
      return tagged('announce', [
        ['listen', str(m.listen, 'listen')],
        ['endpoints', list(m.endpoints, 'endpoints', endpoint)]
      ])
    case 'get_secret':
      return tagged('get_secret', [['name', str(m.name, 'name')]])
    case 'rotation_ack':
      return tagged('rotation_ack', [
        ['rotation_id', str(m.rotation_id, 'rotation_id')],
        ['status', str(m.status, 'status')],
        ['message', omit(m.message, 'message', str)]
      ])
    case 'register_service_provider':
      return tagged('register_service_provider', [
        ['service_type', serviceType(m.service_type, 'service_type')],
        ['name', str(m.name, 'name')],
        ['version', nul(m.version, 'version', str)],
        ['address', str(m.address, 'address')],
        ['metadata', nul(m.metadata, 'metadata', strMap)]
      ])
    case 'discover_service_providers':
      return tagged('discover_service_providers', [
        ['service_type', serviceType(m.service_type, 'service_type')],
        ['all_providers', nul(m.all_providers, 'all_providers', bool)]
      ])
    case 'service_request':
      return tagged('service_request', [
        ['id', str(m.id, 'id')],
        ['service_type', serviceType(m.service_type, 'service_type')],
        ['config', nul(m.config, 'config', json)]
      ])
    case 'service_operation':
      return tagged('service_operation', [
        ['connection_id', str(m.connection_id, 'connection_id')],
        ['service_type', serviceType(m.service_type, 'service_type')],
        ['operation', str(m.operation, 'operation')],
        // Required, but any JSON including null (serde_json::Value).
        ['params', json(m.params === undefined ? null : m.params, 'params')]
      ])
    case 'http_response':
      return tagged('http_response', [
        ['request_id', str(m.request_id, 'request_id')],
        ['status_code', u16(m.status_code, 'status_code')],
        ['headers', strMap(m.headers, 'headers')],
        ['body', nul(m.body, 'body', bytes)]
      ])
    case 'port_request':
      return tagged('port_request', [
        ['request_id', str(m.request_id, 'request_id')],
        ['specific_port', nul(m.specific_port, 'specific_port', u16)]
      ])
    case 'route_to_module':
      return tagged('route_to_module', [
        ['target_module_id', str(m.target_module_id, 'target_module_id')],
        ['target_endpoint', str(m.target_endpoint, 'target_endpoint')],
        ['request_id', uuid(m.request_id, 'request_id')],
        ['payload', encodedMessage(m.payload, 'payload')]
      ])
    case 'heartbeat_ack':
      return tagged('heartbeat_ack', [])
    case 'identify':
      throw new ERR_PYWATT_ENCODE('`identify` has no wire form: Rust\'s Identify(String) variant cannot be serialised, so no orchestrator built on the SDK could read it (docs/protocol.md §4.4)')
    default:
      return unknownOp(m.op)
  }
}

/**
 * Encode an orchestrator → module message (docs/protocol.md §4.2), for the dev orchestrator and
 * tests. `init` is written in Rust's shape (`security_level` defaults to `"None"`).
 *
 * @throws ERR_PYWATT_ENCODE for an unknown `op` or invalid field values
 */
export function encodeOrchestratorMessage (message: Encodable<OrchestratorMessage>): string {
  const m = message as unknown as Record<string, unknown>
  switch (m.op) {
    case 'init':
      return tagged('init', initEntries(m))
    case 'secret':
      return tagged('secret', [
        ['name', str(m.name, 'name')],
        ['value', str(m.value, 'value')],
        ['rotation_id', omit(m.rotation_id, 'rotation_id', str)]
      ])
    case 'rotated':
      return tagged('rotated', [
        ['keys', list(m.keys, 'keys', str)],
        ['rotation_id', str(m.rotation_id, 'rotation_id')]
      ])
    case 'shutdown':
    case 'heartbeat':
      return tagged(m.op, [])
    case 'register_service_provider_response':
      return tagged(m.op, [
        ['success', bool(m.success, 'success')],
        ['provider_id', nul(m.provider_id, 'provider_id', str)],
        ['error', nul(m.error, 'error', str)]
      ])
    case 'discover_service_providers_response':
      return tagged(m.op, [
        ['success', bool(m.success, 'success')],
        ['providers', list(m.providers, 'providers', provider)],
        ['error', nul(m.error, 'error', str)]
      ])
    case 'service_response':
      return tagged(m.op, [
        ['id', str(m.id, 'id')],
        ['service_type', serviceType(m.service_type, 'service_type')],
        ['success', bool(m.success, 'success')],
        ['error', nul(m.error, 'error', str)],
        ['connection_id', nul(m.connection_id, 'connection_id', str)]
      ])
    case 'service_operation_result':
      return tagged(m.op, [
        ['success', bool(m.success, 'success')],
        ['result', nul(m.result, 'result', json)],
        ['error', nul(m.error, 'error', str)],
        // Not a Rust field: the echo Rust needs to correlate results (docs/protocol.md §13).
        ['params', m.params === undefined ? undefined : json(m.params, 'params')]
      ])
    case 'http_request':
      return tagged(m.op, [
        ['request_id', str(m.request_id, 'request_id')],
        ['method', str(m.method, 'method')],
        ['uri', str(m.uri, 'uri')],
        ['headers', strMap(m.headers, 'headers')],
        ['body', nul(m.body, 'body', bytes)]
      ])
    case 'port_response':
      return tagged(m.op, [
        ['request_id', str(m.request_id, 'request_id')],
        ['success', bool(m.success, 'success')],
        ['port', u16(m.port, 'port')],
        ['error_message', nul(m.error_message, 'error_message', str)]
      ])
    case 'routed_module_message':
      return tagged(m.op, [
        ['source_module_id', str(m.source_module_id, 'source_module_id')],
        ['original_request_id', uuid(m.original_request_id, 'original_request_id')],
        ['payload', encodedMessage(m.payload, 'payload')]
      ])
    case 'routed_module_response':
      return tagged(m.op, [
        ['source_module_id', str(m.source_module_id, 'source_module_id')],
        ['request_id', uuid(m.request_id, 'request_id')],
        ['payload', encodedMessage(m.payload, 'payload')]
      ])
    default:
      return unknownOp(m.op)
  }
}

/**
 * Encode the bare Init blob, the first stdin line as Rust's handshake reads it
 * (docs/protocol.md §3.2): no `op`, options omitted when absent.
 */
export function encodeInitBlob (blob: InitBlob): string {
  return object(initEntries(blob as unknown as Record<string, unknown>))
}

/**
 * Encode the stdio HTTP reply wrapper (docs/protocol.md §9.2), which Rust writes instead of the
 * tagged `http_response`. Keys come out sorted, as serde_json's `json!` writes
 * them; `metadata.id` is a fresh UUID v4; `body` is always an array.
 *
 * @param source the module id for `metadata.source` (`PYWATT_MODULE_ID`, else `init.module_id`)
 */
export function encodeHttpReply (reply: HttpReply, source: string): string {
  const requestId = str(reply.request_id, 'request_id')
  return HTTP_REPLY_HEAD + bytes(reply.body ?? EMPTY, 'body') + httpReplyTail(reply, requestId, source)
}

/**
 * {@link encodeHttpReply} in three pieces whose concatenation is the line: the
 * JSON before the body array, the array as ASCII bytes, the JSON after it.
 * Writers that send bytes use it for large bodies, which then never become strings.
 *
 * @throws ERR_PYWATT_ENCODE for invalid field values
 */
export function encodeHttpReplyParts (reply: HttpReply, source: string): [head: string, body: Buffer, tail: string] {
  const requestId = str(reply.request_id, 'request_id')
  const body = reply.body ?? EMPTY
  if (!(body instanceof Uint8Array) && !Array.isArray(body)) fail('body', 'bytes (a Uint8Array or an array of integers 0..255)', body)
  return [HTTP_REPLY_HEAD, bytesToJsonArrayBuffer(body, 'body'), httpReplyTail(reply, requestId, source)]
}

/** Everything after the body array, keys in the order serde writes them (sorted). */
function httpReplyTail (reply: HttpReply, requestId: string, source: string): string {
  return `,"headers":${strMap(reply.headers, 'headers')},"request_id":${requestId},"status_code":${u16(reply.status_code, 'status_code')}},` +
    `"metadata":{"id":"${randomUUID()}","properties":{"correlation_id":${requestId}},"source":${str(source, 'source')}}}`
}

const HTTP_REPLY_HEAD = '{"content":{"body":'

/**
 * Wrap any JSON value in a `Message` envelope: `{"id","content","metadata"}`,
 * metadata fields omitted when absent (so usually `{}`).
 *
 * @param id defaults to a fresh UUID v4
 */
export function encodeEnvelope (content: unknown, metadata?: MessageMetadata, id: string = randomUUID()): string {
  return envelope(json(content, 'content'), metadata, id)
}

/**
 * Encode a module → orchestrator message inside a `Message` envelope, the
 * payload of every frame a module sends on TCP/UDS (docs/protocol.md §11.3).
 */
export function encodeModuleEnvelope (message: Encodable<ModuleMessageOrIdentify>, metadata?: MessageMetadata, id: string = randomUUID()): string {
  return envelope(encodeModuleMessage(message), metadata, id)
}

/**
 * Encode a registration-protocol request envelope (docs/protocol.md §14.2). Rust puts a fresh
 * UUID in `metadata.id`; so does this unless `metadata` is given.
 */
export function encodeRegistrationRequest (request: RegistrationProtocolRequest, metadata: MessageMetadata = { id: randomUUID() }, id: string = randomUUID()): string {
  const r = request as unknown as Record<string, unknown>
  let entries: Entry[]
  switch (r.request_type) {
    case 'register':
      entries = [['module_info', moduleInfo(r.module_info, 'module_info')]]
      break
    case 'heartbeat':
      entries = [
        ['module_id', uuid(r.module_id, 'module_id')],
        ['token', str(r.token, 'token')],
        ['status', oneOf(r.status, 'status', ['Healthy', 'Degraded', 'Unhealthy'])],
        ['details', omit(r.details, 'details', strMap)]
      ]
      break
    case 'capabilities':
      entries = [
        ['module_id', uuid(r.module_id, 'module_id')],
        ['token', str(r.token, 'token')],
        ['capabilities', capabilities(r.capabilities, 'capabilities')]
      ]
      break
    case 'unregister':
      entries = [
        ['module_id', uuid(r.module_id, 'module_id')],
        ['token', str(r.token, 'token')]
      ]
      break
    default:
      throw new ERR_PYWATT_ENCODE(`unknown registration request_type ${describe(r.request_type)}`)
  }
  return envelope(object([['request_type', JSON.stringify(r.request_type)], ...entries]), metadata, id)
}

/** Encode `Message<HttpTcpRequest>` (docs/protocol.md §14.1); `body` is omitted when absent. */
export function encodeHttpTcpRequest (request: Encodable<HttpTcpRequest>, metadata?: MessageMetadata, id: string = randomUUID()): string {
  const r = request as unknown as Record<string, unknown>
  return envelope(object([
    ['request_id', str(r.request_id, 'request_id')],
    ['method', str(r.method, 'method')],
    ['uri', str(r.uri, 'uri')],
    ['headers', strMap(r.headers, 'headers')],
    ['body', omit(r.body, 'body', bytes)]
  ]), metadata, id)
}

/** Encode `Message<HttpTcpResponse>` (docs/protocol.md §14.1); `body` is omitted when absent. */
export function encodeHttpTcpResponse (response: Encodable<HttpTcpResponse>, metadata?: MessageMetadata, id: string = randomUUID()): string {
  const r = response as unknown as Record<string, unknown>
  return envelope(object([
    ['request_id', str(r.request_id, 'request_id')],
    ['status_code', u16(r.status_code, 'status_code')],
    ['headers', strMap(r.headers, 'headers')],
    ['body', omit(r.body, 'body', bytes)]
  ]), metadata, id)
}

/** Encode an `EncodedMessage` struct: `{"data":[...],"format":"Json"}`. */
export function encodeEncodedMessage (message: Encodable<EncodedMessage>): string {
  return encodedMessage(message, 'EncodedMessage')
}

/**
 * Build the `EncodedMessage` carrying `value` (docs/protocol.md §12). `Base64` stores the ASCII
 * of the base64 text of the JSON, as Rust does.
 *
 * @param format `Json` (default) or `Base64`; the SDK never produces `Binary` or `Auto`
 */
export function encodedMessageFromValue (value: unknown, format: 'Json' | 'Base64' = 'Json'): Encodable<EncodedMessage> {
  const text = json(value, 'value')
  const data = format === 'Json' ? Buffer.from(text, 'utf8') : Buffer.from(Buffer.from(text, 'utf8').toString('base64'), 'latin1')
  return { data, format }
}

/** Encode a `StreamChunk` (docs/protocol.md §14.4, default JSON form); `stream_metadata` is `null` when absent. */
export function encodeStreamChunk (chunk: Encodable<StreamChunk>): string {
  const c = chunk as unknown as Record<string, unknown>
  return object([
    ['stream_id', uuid(c.stream_id, 'stream_id')],
    ['sequence', int(c.sequence, 'sequence', 0, Number.MAX_SAFE_INTEGER)],
    ['total_chunks', int(c.total_chunks, 'total_chunks', 0, Number.MAX_SAFE_INTEGER)],
    ['data', bytes(c.data, 'data')],
    ['compressed', bool(c.compressed, 'compressed')],
    ['checksum', int(c.checksum, 'checksum', 0, 0xffffffff)],
    ['is_final', bool(c.is_final, 'is_final')],
    ['stream_metadata', nul(c.stream_metadata, 'stream_metadata', streamMetadata)]
  ])
}

// ---------------------------------------------------------------------------
// Field writers. Each validates its input and returns a JSON fragment.
// ---------------------------------------------------------------------------

const EMPTY = new Uint8Array(0)

function tagged (op: string, entries: readonly Entry[]): string {
  return object([['op', JSON.stringify(op)], ...entries])
}

function object (entries: readonly Entry[]): string {
  let out = '{'
  for (const [key, value] of entries) {
    if (value === undefined) continue
    if (out.length > 1) out += ','
    out += `"${key}":${value}`
  }
  return `${out}}`
}

function envelope (contentJson: string, metadata: MessageMetadata | undefined, id: string): string {
  return object([['id', uuid(id, 'id')], ['content', contentJson], ['metadata', messageMetadata(metadata ?? {}, 'metadata')]])
}

/** Option without `skip_serializing_if`: `null` when absent. */
function nul<T> (value: T, field: string, write: (v: NonNullable<T>, field: string) => string): string {
  return value == null ? 'null' : write(value, field)
}

/** Option with `skip_serializing_if = "Option::is_none"`: omitted when absent. */
function omit<T> (value: T, field: string, write: (v: NonNullable<T>, field: string) => string): string | undefined {
  return value == null ? undefined : write(value, field)
}

function fail (field: string, what: string, value: unknown): never {
  throw new ERR_PYWATT_ENCODE(`field \`${field}\`: expected ${what}, got ${describe(value)}`)
}

function describe (value: unknown): string {
  if (value === null) return 'null'
  if (value === undefined) return 'nothing'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a non-integer number'
  return `a ${typeof value}`
}

function str (value: unknown, field: string): string {
  if (typeof value !== 'string') fail(field, 'a string', value)
  if (!isWellFormed(value)) throw new ERR_PYWATT_ENCODE(`field \`${field}\`: string contains a lone surrogate, which no Rust reader accepts`)
  return JSON.stringify(value)
}

function bool (value: unknown, field: string): string {
  if (typeof value !== 'boolean') fail(field, 'a boolean', value)
  return value ? 'true' : 'false'
}

function int (value: unknown, field: string, min: number, max: number): string {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) fail(field, `an integer ${min}..${max}`, value)
  return String(value)
}

function u16 (value: unknown, field: string): string {
  return int(value, field, 0, 65535)
}

function uuid (value: unknown, field: string): string {
  if (typeof value !== 'string' || !isUuid(value)) fail(field, 'a UUID', value)
  return `"${normaliseUuid(value)}"`
}

function bytes (value: unknown, field: string): string {
  if (!(value instanceof Uint8Array) && !Array.isArray(value)) fail(field, 'bytes (a Uint8Array or an array of integers 0..255)', value)
  return bytesToJsonArray(value, field)
}

function json (value: unknown, field: string): string {
  let out: string | undefined
  try {
    out = JSON.stringify(value)
  } catch (err) {
    throw new ERR_PYWATT_ENCODE(`field \`${field}\`: not serialisable as JSON (${(err as Error).message})`)
  }
  if (out === undefined) fail(field, 'a JSON value', value)
  checkSurrogates(out, field)
  return out
}

function strMap (value: unknown, field: string): string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(field, 'an object of strings', value)
  const map = value as Record<string, unknown>
  for (const k in map) {
    if (Object.hasOwn(map, k) && typeof map[k] !== 'string') fail(`${field}.${k}`, 'a string', map[k])
  }
  const out = JSON.stringify(value)
  checkSurrogates(out, field)
  return out
}

function list (value: unknown, field: string, write: (v: unknown, field: string) => string): string {
  if (!Array.isArray(value)) fail(field, 'an array', value)
  return `[${value.map((v, i) => write(v, `${field}[${i}]`)).join(',')}]`
}

function oneOf (value: unknown, field: string, allowed: readonly string[]): string {
  if (typeof value !== 'string' || !allowed.includes(value)) fail(field, `one of ${allowed.join(', ')}`, value)
  return JSON.stringify(value)
}

function record (value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(field, 'an object', value)
  return value as Record<string, unknown>
}

function serviceType (value: unknown, field: string): string {
  if (value === 'Database' || value === 'Cache' || value === 'Jwt') return `"${value}"`
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 1 && 'Custom' in value) {
    return object([['Custom', str(value.Custom, `${field}.Custom`)]])
  }
  return fail(field, '"Database", "Cache", "Jwt" or {"Custom": name}', value)
}

function encodedMessage (value: unknown, field: string): string {
  const m = record(value, field)
  return object([
    ['data', bytes(m.data, `${field}.data`)],
    ['format', oneOf(m.format, `${field}.format`, ['Json', 'Binary', 'Base64', 'Auto'])]
  ])
}

function endpoint (value: unknown, field: string): string {
  const e = record(value, field) as Partial<EndpointAnnounce>
  return object([
    ['path', str(e.path, `${field}.path`)],
    ['methods', list(e.methods, `${field}.methods`, str)],
    ['auth', omit(e.auth, `${field}.auth`, str)]
  ])
}

function provider (value: unknown, field: string): string {
  const p = record(value, field) as Partial<ServiceProviderInfo>
  return object([
    ['provider_id', str(p.provider_id, `${field}.provider_id`)],
    ['module_id', str(p.module_id, `${field}.module_id`)],
    ['service_type', serviceType(p.service_type, `${field}.service_type`)],
    ['name', str(p.name, `${field}.name`)],
    ['version', nul(p.version, `${field}.version`, str)],
    ['address', str(p.address, `${field}.address`)],
    ['metadata', strMap(p.metadata, `${field}.metadata`)],
    ['is_healthy', bool(p.is_healthy, `${field}.is_healthy`)]
  ])
}

function initEntries (m: Record<string, unknown>): Entry[] {
  return [
    ['orchestrator_api', str(m.orchestrator_api, 'orchestrator_api')],
    ['module_id', str(m.module_id, 'module_id')],
    ['env', strMap(m.env, 'env')],
    ['listen', str(m.listen, 'listen')],
    ['tcp_channel', omit(m.tcp_channel, 'tcp_channel', tcpChannel)],
    ['ipc_channel', omit(m.ipc_channel, 'ipc_channel', ipcChannel)],
    ['auth_token', omit(m.auth_token, 'auth_token', str)],
    ['security_level', oneOf(m.security_level ?? 'None', 'security_level', ['None', 'Token', 'Mtls'])]
  ]
}

function tcpChannel (value: unknown, field: string): string {
  const t = record(value, field)
  if (typeof t.address !== 'string' || !isSocketAddress(t.address)) fail(`${field}.address`, 'a socket address with a numeric IP and a port', t.address)
  return object([
    ['address', JSON.stringify(t.address)],
    ['tls_enabled', bool(t.tls_enabled, `${field}.tls_enabled`)],
    ['required', bool(t.required, `${field}.required`)]
  ])
}

function ipcChannel (value: unknown, field: string): string {
  const c = record(value, field)
  return object([
    ['socket_path', str(c.socket_path, `${field}.socket_path`)],
    ['required', bool(c.required, `${field}.required`)]
  ])
}

function messageMetadata (value: unknown, field: string): string {
  const m = record(value, field)
  return object([
    ['id', omit(m.id, `${field}.id`, str)],
    ['timestamp', omit(m.timestamp, `${field}.timestamp`, (v, f) => int(v, f, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER))],
    ['source', omit(m.source, `${field}.source`, str)],
    ['destination', omit(m.destination, `${field}.destination`, str)],
    ['properties', omit(m.properties, `${field}.properties`, (v, f) => json(record(v, f), f))]
  ])
}

function moduleInfo (value: unknown, field: string): string {
  const i = record(value, field)
  return object([
    ['name', str(i.name, `${field}.name`)],
    ['version', str(i.version, `${field}.version`)],
    ['description', str(i.description, `${field}.description`)],
    ['id', omit(i.id, `${field}.id`, uuid)],
    ['metadata', omit(i.metadata, `${field}.metadata`, strMap)]
  ])
}

function capabilities (value: unknown, field: string): string {
  const c = record(value, field)
  return object([
    ['endpoints', list(c.endpoints, `${field}.endpoints`, (v, f) => {
      const e = record(v, f)
      return object([
        ['path', str(e.path, `${f}.path`)],
        ['methods', list(e.methods, `${f}.methods`, str)],
        ['auth', omit(e.auth, `${f}.auth`, str)],
        ['metadata', omit(e.metadata, `${f}.metadata`, strMap)]
      ])
    })],
    ['message_types', omit(c.message_types, `${field}.message_types`, (v, f) => list(v, f, str))],
    ['additional_capabilities', omit(c.additional_capabilities, `${field}.additional_capabilities`, (v, f) => json(record(v, f), f))]
  ])
}

function streamMetadata (value: unknown, field: string): string {
  const s = record(value, field)
  return object([
    ['total_size', int(s.total_size, `${field}.total_size`, 0, Number.MAX_SAFE_INTEGER)],
    ['content_type', nul(s.content_type, `${field}.content_type`, str)],
    ['priority', oneOf(s.priority, `${field}.priority`, ['Low', 'Normal', 'High', 'Critical'])],
    ['properties', json(record(s.properties ?? {}, `${field}.properties`), `${field}.properties`)]
  ])
}

function checkSurrogates (out: string, field: string): void {
  if (out.includes('\\ud') && LONE_SURROGATE.test(out)) {
    throw new ERR_PYWATT_ENCODE(`field \`${field}\`: string contains a lone surrogate, which no Rust reader accepts`)
  }
}

function unknownOp (op: unknown): never {
  throw new ERR_PYWATT_ENCODE(`unknown op ${typeof op === 'string' ? `\`${op.slice(0, 64)}\`` : describe(op)}`)
}

// ES2024 API, present on every supported Node (see strict-json.ts).
function isWellFormed (s: string): boolean {
  return (s as unknown as { isWellFormed: () => boolean }).isWellFormed()
}
