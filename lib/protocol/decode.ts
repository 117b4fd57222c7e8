import type { Static, TSchema } from '#typebox'
import { ERR_PYWATT_PROTOCOL } from '../errors.js'
import { decodeBase64Strict, decodeUtf8 } from './bytes.js'
import { parseFramePayload } from './frame.js'
import { formatSocketAddress, parseSocketAddress } from './listen-address.js'
import {
  AnnounceMessageSchema, DiscoverServiceProvidersMessageSchema, DiscoverServiceProvidersResponseMessageSchema,
  EncodedMessageSchema, EnvelopeSchema, GetSecretMessageSchema, HeartbeatAckMessageSchema, HeartbeatMessageSchema,
  HttpRequestMessageSchema, HttpResponseMessageSchema, HttpTcpRequestSchema, HttpTcpResponseSchema, InitBlobInputSchema,
  PortRequestMessageSchema, PortResponseMessageSchema, PythonTcpChannelConfigSchema, RegisterServiceProviderMessageSchema,
  RegisterServiceProviderResponseMessageSchema, RegistrationAckResponseSchema, RegistrationHeartbeatResponseSchema,
  RegistrationResponseSchema, RotatedMessageSchema, RotationAckMessageSchema, RouteToModuleMessageSchema,
  RoutedModuleMessageSchema, RoutedModuleResponseSchema, SecretMessageSchema, ServiceOperationMessageSchema,
  ServiceOperationResultMessageSchema, ServiceRequestMessageSchema, ServiceResponseMessageSchema, ShutdownMessageSchema,
  StdioHttpReplySchema, TcpChannelConfigSchema,
  type Decoded, type EncodedMessage, type Envelope, type HttpTcpRequest, type HttpTcpResponse, type InitBlob,
  type ModuleMessage, type OrchestratorMessage, type RegistrationAckResponse, type RegistrationHeartbeatResponse,
  type RegistrationResponse, type StdioHttpReply
} from './schemas.js'
import { formatPath, scanStrictJson, truncate } from './strict-json.js'
import { takeTrailingByteArray, takeTrailingByteArrayOfBytes } from './trailing-bytes.js'
import { normaliseUuid } from './uuid.js'
import { typeName, under, validate, type Location } from './validate.js'

/**
 * Decoders for every direction and transport. Each takes the raw text (a stdin
 * line without its `\n`, a frame payload) so that the strict JSON rules of
 * docs/protocol.md §2.2 apply, and throws `ERR_PYWATT_PROTOCOL` naming the field at
 * fault (never quoting field values, which may be secrets). Decoded objects
 * keep unknown keys (serde ignores them; callers may not); `Option` keys that
 * hold `null` are dropped, since serde reads `null` and absence alike; UUID
 * fields of the message catalogue are normalised to hyphenated lower case.
 */

/** Cap of the handshake line in bytes, newline excluded (docs/protocol.md §3.2). */
export const MAX_INIT_LINE_BYTES = 1024 * 1024

/**
 * The stdio HTTP reply wrapper (docs/protocol.md §9.2) as {@link decodeModuleMessage} returns
 * it. `op: 'http_reply'` is a synthetic tag added by the decoder so that the
 * result is one discriminated union; it never appears on the wire, and the
 * encoders do not accept it (use `encodeHttpReply`).
 */
export type HttpReplyLine = { op: 'http_reply' } & StdioHttpReply

/** Anything a module may write on stdout, decoded. */
export type ModuleLine = ModuleMessage | HttpReplyLine

/** Which registration-protocol response is expected (the reply type is implied by the request, docs/protocol.md §14.2). */
export type RegistrationResponseKind = 'register' | 'heartbeat' | 'capabilities' | 'unregister'

/** The registration response type for each {@link RegistrationResponseKind}. */
export interface RegistrationResponses {
  register: RegistrationResponse
  heartbeat: RegistrationHeartbeatResponse
  capabilities: RegistrationAckResponse
  unregister: RegistrationAckResponse
}

type JsonObject = Record<string, unknown>

const ORCHESTRATOR_OPS = new Map<string, TSchema>([
  ['secret', SecretMessageSchema],
  ['rotated', RotatedMessageSchema],
  ['shutdown', ShutdownMessageSchema],
  ['register_service_provider_response', RegisterServiceProviderResponseMessageSchema],
  ['discover_service_providers_response', DiscoverServiceProvidersResponseMessageSchema],
  ['service_response', ServiceResponseMessageSchema],
  ['service_operation_result', ServiceOperationResultMessageSchema],
  ['http_request', HttpRequestMessageSchema],
  ['port_response', PortResponseMessageSchema],
  ['routed_module_message', RoutedModuleMessageSchema],
  ['routed_module_response', RoutedModuleResponseSchema],
  ['heartbeat', HeartbeatMessageSchema]
])

const MODULE_OPS = new Map<string, TSchema>([
  ['announce', AnnounceMessageSchema],
  ['get_secret', GetSecretMessageSchema],
  ['rotation_ack', RotationAckMessageSchema],
  ['register_service_provider', RegisterServiceProviderMessageSchema],
  ['discover_service_providers', DiscoverServiceProvidersMessageSchema],
  ['service_request', ServiceRequestMessageSchema],
  ['service_operation', ServiceOperationMessageSchema],
  ['http_response', HttpResponseMessageSchema],
  ['port_request', PortRequestMessageSchema],
  ['route_to_module', RouteToModuleMessageSchema],
  ['heartbeat_ack', HeartbeatAckMessageSchema]
])

const REGISTRATION_RESPONSES: Record<RegistrationResponseKind, TSchema> = {
  register: RegistrationResponseSchema,
  heartbeat: RegistrationHeartbeatResponseSchema,
  capabilities: RegistrationAckResponseSchema,
  unregister: RegistrationAckResponseSchema
}

/**
 * Decode the first stdin line, the Init blob (docs/protocol.md §3.2, §5). Accepts the bare blob
 * or `{"op":"init", ...}` (any `op` is just an ignored key here, as in Rust), a
 * trailing `\r`, and two deliberate extensions over Rust: `tcp_channel` in the
 * Python shape `{host, port, tls_enabled?, required?}` and `listen` as
 * `{"Unix": path}`. Both are normalised to the Rust shape.
 *
 * @throws ERR_PYWATT_PROTOCOL naming the problem
 */
export function decodeInit (line: string): InitBlob {
  // A string of n UTF-16 units is at most 3n UTF-8 bytes: count bytes only when it could matter.
  if (line.length > MAX_INIT_LINE_BYTES / 3 && Buffer.byteLength(line) > MAX_INIT_LINE_BYTES) {
    throw new ERR_PYWATT_PROTOCOL(`the Init line exceeds ${MAX_INIT_LINE_BYTES} bytes`)
  }
  const { value, at } = parseObject(line)
  return normaliseInit(value, at)
}

/**
 * Decode a later stdin line (or a bare channel payload) as an orchestrator →
 * module message (docs/protocol.md §4.2). `init` is accepted with the same liberal rules as
 * {@link decodeInit}. Envelopes are rejected here, as in Rust (stdin never
 * carries them).
 *
 * @throws ERR_PYWATT_PROTOCOL for a missing, non-string or unknown `op`, or a bad field
 */
export function decodeOrchestratorMessage (line: string): OrchestratorMessage {
  // Only a body of some size is worth the detour (and only http_request has one).
  if (line.length > FAST_BODY_MIN_LENGTH) {
    const message = withTrailingBody(takeTrailingByteArray(line, 'body'))
    if (message !== null) return message
  }
  const { value, at } = parseObject(line)
  return orchestratorFromObject(value, at)
}

const FAST_BODY_MIN_LENGTH = 1024

/**
 * The fast path of {@link decodeOrchestratorMessage} for a stdin line still
 * in bytes: an `http_request` whose body array ends the line has the array read
 * straight from the bytes and only the rest decoded as text. `null` when the
 * path does not apply or the line has any problem: the caller then decodes the
 * line as text, which rejects it with the precise error.
 */
export function decodeHttpRequestBytes (line: Uint8Array): OrchestratorMessage | null {
  if (line.length <= FAST_BODY_MIN_LENGTH || !startsWithOp(line)) return null
  try {
    return withTrailingBody(takeTrailingByteArrayOfBytes(line, 'body', decodeLineText))
  } catch {
    return null
  }
}

function decodeLineText (bytes: Uint8Array): string {
  return decodeUtf8(bytes, 'line')
}

/**
 * The `http_request` whose body array was cut off (`rest` has `"body":null`),
 * with the bytes put back; `null` when nothing was cut, or for another op
 * ending in a `body` array, which takes the generic path.
 */
function withTrailingBody (fast: { rest: string, bytes: Buffer } | null): OrchestratorMessage | null {
  if (fast === null) return null
  const { value, at } = parseObject(fast.rest)
  const message = orchestratorFromObject(value, at)
  if (message.op !== 'http_request') return null
  message.body = fast.bytes
  return message
}
const OP_PREFIX = Buffer.from('{"op":')

function decodeFrameText (bytes: Uint8Array): string {
  return decodeUtf8(bytes, 'frame payload')
}

function startsWithOp (payload: Uint8Array): boolean {
  for (let i = 0; i < OP_PREFIX.length; i++) if (payload[i] !== OP_PREFIX[i]) return false
  return true
}

/**
 * Decode a TCP/UDS frame from the orchestrator (docs/protocol.md §11.3): formats 1, 3, and 2 when
 * its bytes are JSON. The payload is normally a bare `{"op":...}` object; a
 * `Message` envelope is unwrapped as well, a tolerance Rust lacks (it skips
 * enveloped frames).
 *
 * @throws ERR_PYWATT_PROTOCOL on a bad format byte, invalid JSON or a bad message
 */
export function decodeOrchestratorFrame (format: number, payload: Uint8Array): OrchestratorMessage {
  // A bare JSON message with a body takes the stdio line's fast path (its byte
  // array read straight into a Buffer); envelopes and the rest, the generic one.
  if (format === 1 && payload.length > FAST_BODY_MIN_LENGTH && startsWithOp(payload)) {
    const message = withTrailingBody(takeTrailingByteArrayOfBytes(payload, 'body', decodeFrameText))
    if (message !== null) return message
  }
  const { value, text, floatTree } = parseFramePayload(format, payload)
  const obj = asObject(value)
  const at: Location = { text, floatTree, prefix: [] }
  if (!Object.hasOwn(obj, 'op') && Object.hasOwn(obj, 'content') && Object.hasOwn(obj, 'id')) {
    const envelope = envelopeFromObject(obj, at)
    return orchestratorFromObject(asObject(envelope.content, 'content'), under(at, 'content'))
  }
  return orchestratorFromObject(obj, at)
}

/**
 * Decode one line a module wrote on stdout (the orchestrator's view; used by
 * `pywatt-dev` and tests): any module op (docs/protocol.md §4.1), or the stdio HTTP reply wrapper
 * `{content, metadata}` (docs/protocol.md §9.2), returned as `{op: 'http_reply', content, metadata}`.
 * `identify` is rejected: Rust can neither write nor read it (docs/protocol.md §4.4).
 *
 * @throws ERR_PYWATT_PROTOCOL naming the problem
 */
export function decodeModuleMessage (line: string): ModuleLine {
  const { value, at } = parseObject(line)
  if (!Object.hasOwn(value, 'op') && Object.hasOwn(value, 'content')) {
    validate(StdioHttpReplySchema, value, at)
    const reply = value as StdioHttpReply
    reply.metadata.id = normaliseUuid(reply.metadata.id)
    return { op: 'http_reply', content: reply.content, metadata: reply.metadata }
  }
  return moduleFromObject(value, at)
}

/**
 * Decode a module's TCP/UDS frame payload: a `Message` envelope around a
 * module → orchestrator message (docs/protocol.md §4.1, §11.3).
 *
 * @throws ERR_PYWATT_PROTOCOL naming the problem
 */
export function decodeModuleFrame (format: number, payload: Uint8Array): Envelope<ModuleMessage> {
  const { value, text, floatTree } = parseFramePayload(format, payload)
  return moduleEnvelopeFromObject(asObject(value), { text, floatTree, prefix: [] })
}

/**
 * Decode the JSON text of a `Message` envelope around a module → orchestrator message (docs/protocol.md §4.1).
 *
 * @throws ERR_PYWATT_PROTOCOL naming the problem
 */
export function decodeModuleEnvelope (text: string): Envelope<ModuleMessage> {
  const { value, at } = parseObject(text)
  return moduleEnvelopeFromObject(value, at)
}

/**
 * Decode a `Message<serde_json::Value>` envelope: `id` must be a UUID in any
 * form serde accepts (returned hyphenated lower case), `metadata` may be
 * missing (→ `{}`) but not `null`.
 *
 * @throws ERR_PYWATT_PROTOCOL naming the problem
 */
export function decodeEnvelope (text: string): Envelope<unknown> {
  const { value, at } = parseObject(text)
  return envelopeFromObject(value, at)
}

/**
 * Decode a `Message<T>` envelope whose content must match `schema` (e.g.
 * `HttpTcpRequest`, a registration request).
 *
 * @throws ERR_PYWATT_PROTOCOL naming the problem
 */
export function decodeEnvelopeOf<T extends TSchema> (schema: T, text: string): Envelope<Decoded<T>> {
  const { value, at } = parseObject(text)
  const envelope = envelopeFromObject(value, at)
  validate(schema, envelope.content, under(at, 'content'))
  return envelope as Envelope<Decoded<T>>
}

/** Decode an HTTP-over-TCP request frame payload, `Message<HttpTcpRequest>` (docs/protocol.md §14.1). */
export function decodeHttpTcpRequest (text: string): Envelope<HttpTcpRequest> {
  return decodeEnvelopeOf(HttpTcpRequestSchema, text)
}

/** Decode an HTTP-over-TCP response frame payload, `Message<HttpTcpResponse>` (docs/protocol.md §14.1). */
export function decodeHttpTcpResponse (text: string): Envelope<HttpTcpResponse> {
  return decodeEnvelopeOf(HttpTcpResponseSchema, text)
}

/**
 * Decode a registration-protocol response (docs/protocol.md §14.2): bare JSON, never enveloped;
 * its type is implied by the request that was sent.
 *
 * @throws ERR_PYWATT_PROTOCOL naming the problem
 */
export function decodeRegistrationResponse<K extends RegistrationResponseKind> (text: string, kind: K): RegistrationResponses[K] {
  const { value, at } = parseObject(text)
  validate(REGISTRATION_RESPONSES[kind], value, at)
  const module = (value as { module?: { id: string, info: { id?: string | null } } | null }).module
  if (module != null) {
    module.id = normaliseUuid(module.id)
    if (module.info.id != null) module.info.id = normaliseUuid(module.info.id)
  }
  return value as unknown as RegistrationResponses[K]
}

/**
 * Decode any JSON text against any schema of this module (e.g. `EncodedMessage`,
 * `StreamChunk`, `BuildInfo`) with the strict JSON rules.
 *
 * @throws ERR_PYWATT_PROTOCOL naming the problem
 */
export function decodeWithSchema<T extends TSchema> (schema: T, text: string): Decoded<T> {
  const { value, floatTree } = scanStrictJson(text)
  validate(schema, value, { text, floatTree, prefix: [] })
  return value as Decoded<T>
}

/** Decode the JSON text of an `EncodedMessage` (`{data: [bytes], format}`). */
export function decodeEncodedMessage (text: string): EncodedMessage {
  return decodeWithSchema(EncodedMessageSchema, text)
}

/**
 * The JSON value an `EncodedMessage` carries (docs/protocol.md §12): `Json` and `Binary` hold
 * JSON bytes (Rust re-parses "Binary" as JSON), `Base64` holds the ASCII of the
 * base64 of JSON bytes. `Auto` cannot be decoded.
 *
 * @throws ERR_PYWATT_PROTOCOL when the bytes are not what the format says
 */
export function encodedMessageValue (message: { data: ArrayLike<number>, format: string }): unknown {
  const bytes = Uint8Array.from(message.data)
  switch (message.format) {
    case 'Json':
    case 'Binary':
      return scanStrictJson(decodeUtf8(bytes, 'EncodedMessage data')).value
    case 'Base64': {
      const json = decodeBase64Strict(Buffer.from(bytes).toString('latin1'), 'EncodedMessage data')
      return scanStrictJson(decodeUtf8(json, 'EncodedMessage data')).value
    }
    default:
      throw new ERR_PYWATT_PROTOCOL(`EncodedMessage format \`${truncate(String(message.format))}\` cannot be decoded`)
  }
}

// ---------------------------------------------------------------------------

function parseObject (text: string): { value: JsonObject, at: Location } {
  const { value, floatTree } = scanStrictJson(text)
  return { value: asObject(value), at: { text, floatTree, prefix: [] } }
}

function asObject (value: unknown, field?: string): JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    // One object per line: serde rejects arrays (no batching) and scalars.
    const subject = field === undefined ? '' : `field \`${field}\`: `
    throw new ERR_PYWATT_PROTOCOL(`${subject}expected a JSON object, got ${typeName(value)}`)
  }
  return value as JsonObject
}

function readOp (obj: JsonObject, at: Location): string {
  const field = formatPath([...at.prefix, 'op'])
  if (!Object.hasOwn(obj, 'op')) throw new ERR_PYWATT_PROTOCOL(`missing field \`${field}\``)
  const op = obj.op
  if (typeof op !== 'string') throw new ERR_PYWATT_PROTOCOL(`field \`${field}\`: expected a string, got ${typeName(op)}`)
  return op
}

function unknownOp (op: string, known: Map<string, TSchema>, other: Map<string, TSchema>, direction: string): never {
  let hint = ''
  const lower = op.toLowerCase()
  if (lower !== op && (known.has(lower) || lower === 'init')) hint = ` (ops are case-sensitive: did you mean \`${lower}\`?)`
  else if (other.has(op) || op === 'identify' || op === 'init') hint = ` (\`${op}\` is not sent ${direction})`
  throw new ERR_PYWATT_PROTOCOL(`unknown op \`${truncate(JSON.stringify(op).slice(1, -1))}\`${hint}`)
}

function orchestratorFromObject (obj: JsonObject, at: Location): OrchestratorMessage {
  const op = readOp(obj, at)
  if (op === 'init') return { op: 'init', ...normaliseInit(obj, at) }
  const schema = ORCHESTRATOR_OPS.get(op)
  if (schema === undefined) return unknownOp(op, ORCHESTRATOR_OPS, MODULE_OPS, 'to modules')
  validate(schema, obj, at)
  if (op === 'http_request' && Array.isArray(obj.body)) obj.body = Buffer.from(obj.body as number[])
  else if (op === 'routed_module_message') obj.original_request_id = normaliseUuid(obj.original_request_id as string)
  else if (op === 'routed_module_response') obj.request_id = normaliseUuid(obj.request_id as string)
  return obj as OrchestratorMessage
}

function moduleFromObject (obj: JsonObject, at: Location): ModuleMessage {
  const op = readOp(obj, at)
  if (op === 'identify') {
    throw new ERR_PYWATT_PROTOCOL('op `identify` cannot be decoded: Rust\'s Identify(String) variant has no JSON form (docs/protocol.md §4.4)')
  }
  const schema = MODULE_OPS.get(op)
  if (schema === undefined) return unknownOp(op, MODULE_OPS, ORCHESTRATOR_OPS, 'by modules')
  validate(schema, obj, at)
  if (op === 'route_to_module') obj.request_id = normaliseUuid(obj.request_id as string)
  return obj as ModuleMessage
}

function envelopeFromObject (obj: JsonObject, at: Location): Envelope<unknown> {
  validate(EnvelopeSchema, obj, at)
  const envelope = obj as { id: string, content: unknown, metadata?: Envelope['metadata'] }
  return { id: normaliseUuid(envelope.id), content: envelope.content, metadata: envelope.metadata ?? {} }
}

function moduleEnvelopeFromObject (obj: JsonObject, at: Location): Envelope<ModuleMessage> {
  const envelope = envelopeFromObject(obj, at)
  const content = moduleFromObject(asObject(envelope.content, 'content'), under(at, 'content'))
  return { ...envelope, content }
}

function normaliseInit (obj: JsonObject, at: Location): InitBlob {
  validate(InitBlobInputSchema, obj, at)
  const input = obj as Static<typeof InitBlobInputSchema>
  // Built in Rust's field order, with options absent rather than null.
  return {
    orchestrator_api: input.orchestrator_api,
    module_id: input.module_id,
    env: input.env,
    listen: typeof input.listen === 'string' ? input.listen : input.listen.Unix,
    ...(input.tcp_channel == null ? {} : { tcp_channel: normaliseTcpChannel(input.tcp_channel as JsonObject, under(at, 'tcp_channel')) }),
    ...(input.ipc_channel == null ? {} : { ipc_channel: { socket_path: input.ipc_channel.socket_path, required: input.ipc_channel.required } }),
    ...(input.auth_token == null ? {} : { auth_token: input.auth_token }),
    security_level: input.security_level ?? 'None'
  }
}

function normaliseTcpChannel (tc: JsonObject, at: Location): NonNullable<InitBlob['tcp_channel']> {
  // The Python shape is recognised only when the Rust `address` is absent.
  if (!Object.hasOwn(tc, 'address') && (Object.hasOwn(tc, 'host') || Object.hasOwn(tc, 'port'))) {
    validate(PythonTcpChannelConfigSchema, tc, at)
    const py = tc as Static<typeof PythonTcpChannelConfigSchema>
    const host = py.host.startsWith('[') && py.host.endsWith(']') ? py.host.slice(1, -1) : py.host
    const address = formatSocketAddress(host, py.port)
    if (parseSocketAddress(address) === null) {
      throw new ERR_PYWATT_PROTOCOL(`field \`${formatPath([...at.prefix, 'host'])}\`: expected a numeric IP address (host names are not accepted)`)
    }
    return { address, tls_enabled: py.tls_enabled ?? false, required: py.required ?? false }
  }
  validate(TcpChannelConfigSchema, tc, at)
  return { address: tc.address as string, tls_enabled: tc.tls_enabled as boolean, required: tc.required as boolean }
}
