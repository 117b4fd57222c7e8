import { FormatRegistry, Type, type Static, type TLiteral, type TNull, type TOptional, type TSchema, type TUnion } from '#typebox'
import { isSocketAddress } from './listen-address.js'
import { UUID_PATTERN } from './uuid.js'

/**
 * TypeBox schemas (named `…Schema`; the decoded TypeScript types carry the
 * plain names) for every JSON shape of the PyWatt protocol (docs/protocol.md §4,
 * §9.2, §14.1, §14.2, §14.4, §14.5). Property order is Rust's struct field order; the
 * encoders emit in that order.
 *
 * Input tolerance follows serde (docs/protocol.md §2.2):
 * - `Opt(T)`: Rust `Option<T>`; on input the key may be missing or `null`.
 *   Whether the encoder writes `null` or omits the key is the encoder's business.
 * - `Type.Optional(T)` without null: a `#[serde(default)]` field; missing is
 *   fine, `null` is an error.
 * - everything else is required; unknown keys are allowed everywhere.
 *
 * The `expected` option is read by the decoder to word error messages.
 */

/** Format name for Rust `SocketAddr` strings (numeric IP and port). */
export const SOCKET_ADDRESS_FORMAT = 'pywatt-socket-address'
FormatRegistry.Set(SOCKET_ADDRESS_FORMAT, isSocketAddress)

/** Rust `Option<T>`: missing or `null` both mean None. */
export function Opt<T extends TSchema> (schema: T): TOptional<TUnion<[T, TNull]>> {
  return Type.Optional(Type.Union([schema, Type.Null()]))
}

function Enum<const L extends TLiteral<string>[]> (literals: [...L]) {
  return Type.Union(literals, { expected: `one of ${literals.map((l) => `\`${l.const}\``).join(', ')}` })
}

// ---------------------------------------------------------------------------
// Primitives
// ---------------------------------------------------------------------------

/** `u8`. */
export const U8 = Type.Integer({ minimum: 0, maximum: 255, expected: 'an integer 0..255' })
/** `u16` (ports, HTTP status codes). */
export const U16 = Type.Integer({ minimum: 0, maximum: 65535, expected: 'an integer 0..65535' })
/** `u32`. */
export const U32 = Type.Integer({ minimum: 0, maximum: 0xffffffff, expected: 'an integer 0..4294967295' })
/**
 * `u64`, limited to 2^53 - 1: larger values cannot be represented exactly in a
 * JS number, and rejecting them beats silently changing them.
 */
export const U64 = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, expected: 'an integer 0..2^53-1' })
/** `i64`, limited to the safe-integer range for the same reason as {@link U64}. */
export const I64 = Type.Integer({ minimum: Number.MIN_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER, expected: 'an integer within ±(2^53-1)' })

/** `Vec<u8>`: a JSON array of integers 0..255 (no base64, no strings). */
export const ByteArray = Type.Array(U8, { expected: 'an array of integers 0..255' })

// TypeBox's default key pattern for string records is `^(.*)$`, which misses
// keys containing a newline, and unmatched keys skip the value check; this one
// matches every key.
const AnyKey = Type.String({ pattern: '^[\\s\\S]*$' })

/** `HashMap<String, String>`: every value must be a string. */
export const StringMap = Type.Record(AnyKey, Type.String(), { expected: 'an object of strings' })

/** `serde_json::Map`: any object. */
export const JsonObject = Type.Record(AnyKey, Type.Unknown(), { expected: 'an object' })

/** Any JSON value (`serde_json::Value`). */
export const JsonValue = Type.Unknown()

/**
 * `uuid::Uuid` on input: hyphenated, simple (32 hex digits), braced or
 * `urn:uuid:` forms, hex digits in any case. Decoders normalise to hyphenated
 * lower case, the only form Rust emits.
 */
export const Uuid = Type.String({ pattern: UUID_PATTERN, expected: 'a UUID' })

/** Rust `SocketAddr`: `"127.0.0.1:4102"` or `"[::1]:4102"`; host names are rejected. */
export const SocketAddr = Type.String({
  format: SOCKET_ADDRESS_FORMAT,
  expected: 'a socket address with a numeric IP and a port (invalid socket address syntax; host names are not accepted)'
})

// ---------------------------------------------------------------------------
// Enums
// ---------------------------------------------------------------------------

/** `SecurityLevel` (parsed, never acted on: docs/protocol.md §11.8). */
export const SecurityLevelSchema = Enum([Type.Literal('None'), Type.Literal('Token'), Type.Literal('Mtls')])
/** `EncodingFormat` of an {@link EncodedMessageSchema}. `Auto` is accepted but meaningless. */
export const EncodingFormatSchema = Enum([Type.Literal('Json'), Type.Literal('Binary'), Type.Literal('Base64'), Type.Literal('Auto')])
/** Registration `HealthStatus`. */
export const HealthStatusSchema = Enum([Type.Literal('Healthy'), Type.Literal('Degraded'), Type.Literal('Unhealthy')])
/** Streaming `StreamPriority`. */
export const StreamPrioritySchema = Enum([Type.Literal('Low'), Type.Literal('Normal'), Type.Literal('High'), Type.Literal('Critical')])

/** `ServiceType`: `"Database"`, `"Cache"`, `"Jwt"` or `{"Custom": name}` (externally tagged). */
export const ServiceTypeSchema = Type.Union([
  Type.Literal('Database'),
  Type.Literal('Cache'),
  Type.Literal('Jwt'),
  // serde reads an externally tagged enum from a map with exactly one entry.
  Type.Object({ Custom: Type.String() }, { additionalProperties: false })
], { expected: '"Database", "Cache", "Jwt" or {"Custom": name}' })

// ---------------------------------------------------------------------------
// Payload structs (docs/protocol.md §4.3)
// ---------------------------------------------------------------------------

/** `TcpChannelConfig`: where the module connects its TCP channel. */
export const TcpChannelConfigSchema = Type.Object({
  address: SocketAddr,
  tls_enabled: Type.Boolean(),
  required: Type.Boolean()
})

/**
 * The Python SDK's `tcp_channel` shape. Accepted by the TS SDK's Init decoder
 * only (docs/protocol.md §5.2) and normalised to {@link TcpChannelConfigSchema}; missing flags are false.
 */
export const PythonTcpChannelConfigSchema = Type.Object({
  host: Type.String(),
  port: U16,
  tls_enabled: Type.Optional(Type.Boolean()),
  required: Type.Optional(Type.Boolean())
})

/** `IpcChannelConfig`: the Unix-socket channel. */
export const IpcChannelConfigSchema = Type.Object({
  socket_path: Type.String(),
  required: Type.Boolean()
})

/**
 * `InitBlob` as the decoders return it: `listen` a string, `tcp_channel` in the
 * Rust shape, options absent rather than null, `security_level` defaulted.
 */
export const InitBlobSchema = Type.Object({
  orchestrator_api: Type.String(),
  module_id: Type.String(),
  env: StringMap,
  listen: Type.String(),
  tcp_channel: Type.Optional(TcpChannelConfigSchema),
  ipc_channel: Type.Optional(IpcChannelConfigSchema),
  auth_token: Type.Optional(Type.String()),
  security_level: SecurityLevelSchema
})

/**
 * What the Init decoder accepts before normalising (docs/protocol.md §3.2, §5): Rust's rules,
 * plus `listen` as `{"Unix": path}`. `tcp_channel` is checked separately
 * because it has two accepted shapes.
 */
export const InitBlobInputSchema = Type.Object({
  orchestrator_api: Type.String(),
  module_id: Type.String(),
  env: StringMap,
  listen: Type.Union([Type.String(), Type.Object({ Unix: Type.String() })], { expected: 'a string (or {"Unix": path})' }),
  tcp_channel: Opt(Type.Object({})),
  ipc_channel: Opt(IpcChannelConfigSchema),
  auth_token: Opt(Type.String()),
  security_level: Type.Optional(SecurityLevelSchema)
})

/** `EndpointAnnounce`: one announced route. `auth` is omitted on output when absent. */
export const EndpointAnnounceSchema = Type.Object({
  path: Type.String(),
  methods: Type.Array(Type.String()),
  auth: Opt(Type.String())
})

/** `AnnounceBlob`. */
export const AnnounceBlobSchema = Type.Object({
  listen: Type.String(),
  endpoints: Type.Array(EndpointAnnounceSchema)
})

/** `GetSecretRequest`. */
export const GetSecretRequestSchema = Type.Object({ name: Type.String() })

/** `SecretValueResponse`; `rotation_id` is omitted on output when absent. */
export const SecretValueResponseSchema = Type.Object({
  name: Type.String(),
  value: Type.String(),
  rotation_id: Opt(Type.String())
})

/** `RotatedNotification`. */
export const RotatedNotificationSchema = Type.Object({
  keys: Type.Array(Type.String()),
  rotation_id: Type.String()
})

/** `RotationAckRequest`; `message` is omitted on output when absent. */
export const RotationAckRequestSchema = Type.Object({
  rotation_id: Type.String(),
  status: Type.String(),
  message: Opt(Type.String())
})

/** `RegisterServiceProviderRequest`; `version`/`metadata` are `null` on output when absent. */
export const RegisterServiceProviderRequestSchema = Type.Object({
  service_type: ServiceTypeSchema,
  name: Type.String(),
  version: Opt(Type.String()),
  address: Type.String(),
  metadata: Opt(StringMap)
})

/** `RegisterServiceProviderResponse`. */
export const RegisterServiceProviderResponseSchema = Type.Object({
  success: Type.Boolean(),
  provider_id: Opt(Type.String()),
  error: Opt(Type.String())
})

/** `DiscoverServiceProvidersRequest`. */
export const DiscoverServiceProvidersRequestSchema = Type.Object({
  service_type: ServiceTypeSchema,
  all_providers: Opt(Type.Boolean())
})

/** `ServiceProviderInfo`; `metadata` is required (may be `{}`). */
export const ServiceProviderInfoSchema = Type.Object({
  provider_id: Type.String(),
  module_id: Type.String(),
  service_type: ServiceTypeSchema,
  name: Type.String(),
  version: Opt(Type.String()),
  address: Type.String(),
  metadata: StringMap,
  is_healthy: Type.Boolean()
})

/** `DiscoverServiceProvidersResponse`. */
export const DiscoverServiceProvidersResponseSchema = Type.Object({
  success: Type.Boolean(),
  providers: Type.Array(ServiceProviderInfoSchema),
  error: Opt(Type.String())
})

/** `ServiceRequest` (open a Database/Cache/Jwt connection through the orchestrator). */
export const ServiceRequestSchema = Type.Object({
  id: Type.String(),
  service_type: ServiceTypeSchema,
  config: Opt(JsonValue)
})

/** `ServiceResponse`, correlated with the request by `id`. */
export const ServiceResponseSchema = Type.Object({
  id: Type.String(),
  service_type: ServiceTypeSchema,
  success: Type.Boolean(),
  error: Opt(Type.String()),
  connection_id: Opt(Type.String())
})

/** `ServiceOperation`; `params` is required but may be any JSON (even `null`). */
export const ServiceOperationSchema = Type.Object({
  connection_id: Type.String(),
  service_type: ServiceTypeSchema,
  operation: Type.String(),
  params: JsonValue
})

/**
 * `ServiceOperationResult`. `params` is not a Rust field: it is the echo of the
 * original operation that Rust needs to correlate the result (docs/protocol.md §13), kept so that consumers can use it too.
 */
export const ServiceOperationResultSchema = Type.Object({
  success: Type.Boolean(),
  result: Opt(JsonValue),
  error: Opt(Type.String()),
  params: Type.Optional(JsonValue)
})

/** `IpcHttpRequest` (HTTP over stdio, docs/protocol.md §9.1). `headers` is required; `body` may be absent or null. */
export const IpcHttpRequestSchema = Type.Object({
  request_id: Type.String(),
  method: Type.String(),
  uri: Type.String(),
  headers: StringMap,
  body: Opt(ByteArray)
})

/** `IpcHttpResponse`. */
export const IpcHttpResponseSchema = Type.Object({
  request_id: Type.String(),
  status_code: U16,
  headers: StringMap,
  body: Opt(ByteArray)
})

/** `IpcPortNegotiation`; `specific_port` is `null` on output when absent. */
export const IpcPortNegotiationSchema = Type.Object({
  request_id: Type.String(),
  specific_port: Opt(U16)
})

/** `IpcPortNegotiationResponse`; `port` is required even on failure. */
export const IpcPortNegotiationResponseSchema = Type.Object({
  request_id: Type.String(),
  success: Type.Boolean(),
  port: U16,
  error_message: Opt(Type.String())
})

/** `EncodedMessage`: bytes plus their format. For `Base64`, `data` holds the ASCII of the base64 text. */
export const EncodedMessageSchema = Type.Object({
  data: ByteArray,
  format: EncodingFormatSchema
})

// ---------------------------------------------------------------------------
// Tagged messages (docs/protocol.md §4.1, §4.2)
// ---------------------------------------------------------------------------

function tagged<const Op extends string, P extends Record<string, TSchema>> (op: Op, properties: P) {
  return Type.Object({ op: Type.Literal(op), ...properties })
}

/** `{"op":"announce", ...AnnounceBlob}`. */
export const AnnounceMessageSchema = tagged('announce', AnnounceBlobSchema.properties)
/** `{"op":"get_secret", name}`. */
export const GetSecretMessageSchema = tagged('get_secret', GetSecretRequestSchema.properties)
/** `{"op":"rotation_ack", ...}`. */
export const RotationAckMessageSchema = tagged('rotation_ack', RotationAckRequestSchema.properties)
/** `{"op":"register_service_provider", ...}`. */
export const RegisterServiceProviderMessageSchema = tagged('register_service_provider', RegisterServiceProviderRequestSchema.properties)
/** `{"op":"discover_service_providers", ...}`. */
export const DiscoverServiceProvidersMessageSchema = tagged('discover_service_providers', DiscoverServiceProvidersRequestSchema.properties)
/** `{"op":"service_request", ...}`. */
export const ServiceRequestMessageSchema = tagged('service_request', ServiceRequestSchema.properties)
/** `{"op":"service_operation", ...}`. */
export const ServiceOperationMessageSchema = tagged('service_operation', ServiceOperationSchema.properties)
/** `{"op":"http_response", ...}`: the tagged form, for TCP/UDS envelopes only (stdio uses the wrapper, docs/protocol.md §9.2). */
export const HttpResponseMessageSchema = tagged('http_response', IpcHttpResponseSchema.properties)
/** `{"op":"port_request", ...}`. */
export const PortRequestMessageSchema = tagged('port_request', IpcPortNegotiationSchema.properties)
/** `{"op":"route_to_module", ...}` (struct variant). */
export const RouteToModuleMessageSchema = tagged('route_to_module', {
  target_module_id: Type.String(),
  target_endpoint: Type.String(),
  request_id: Uuid,
  payload: EncodedMessageSchema
})
/** `{"op":"heartbeat_ack"}`. */
export const HeartbeatAckMessageSchema = tagged('heartbeat_ack', {})
/**
 * `identify` has no wire form: Rust's `Identify(String)` cannot be serialised
 * (docs/protocol.md §4.4). The schema exists so that the encoder can be asked, and refuse.
 */
export const IdentifyMessageSchema = tagged('identify', { module_id: Type.Optional(Type.String()) })

/** Every module → orchestrator message that has a wire form (docs/protocol.md §4.1). */
export const ModuleToOrchestratorSchema = Type.Union([
  AnnounceMessageSchema,
  GetSecretMessageSchema,
  RotationAckMessageSchema,
  RegisterServiceProviderMessageSchema,
  DiscoverServiceProvidersMessageSchema,
  ServiceRequestMessageSchema,
  ServiceOperationMessageSchema,
  HttpResponseMessageSchema,
  PortRequestMessageSchema,
  RouteToModuleMessageSchema,
  HeartbeatAckMessageSchema
])

/** `{"op":"init", ...InitBlob}` (normalised like {@link InitBlobSchema}). */
export const InitMessageSchema = tagged('init', InitBlobSchema.properties)
/** `{"op":"secret", ...}`. */
export const SecretMessageSchema = tagged('secret', SecretValueResponseSchema.properties)
/** `{"op":"rotated", ...}`. */
export const RotatedMessageSchema = tagged('rotated', RotatedNotificationSchema.properties)
/** `{"op":"shutdown"}`. */
export const ShutdownMessageSchema = tagged('shutdown', {})
/** `{"op":"register_service_provider_response", ...}`. */
export const RegisterServiceProviderResponseMessageSchema = tagged('register_service_provider_response', RegisterServiceProviderResponseSchema.properties)
/** `{"op":"discover_service_providers_response", ...}`. */
export const DiscoverServiceProvidersResponseMessageSchema = tagged('discover_service_providers_response', DiscoverServiceProvidersResponseSchema.properties)
/** `{"op":"service_response", ...}`. */
export const ServiceResponseMessageSchema = tagged('service_response', ServiceResponseSchema.properties)
/** `{"op":"service_operation_result", ...}`. */
export const ServiceOperationResultMessageSchema = tagged('service_operation_result', ServiceOperationResultSchema.properties)
/** `{"op":"http_request", ...}`. */
export const HttpRequestMessageSchema = tagged('http_request', IpcHttpRequestSchema.properties)
/** `{"op":"port_response", ...}`. */
export const PortResponseMessageSchema = tagged('port_response', IpcPortNegotiationResponseSchema.properties)
/** `{"op":"routed_module_message", ...}` (struct variant). */
export const RoutedModuleMessageSchema = tagged('routed_module_message', {
  source_module_id: Type.String(),
  original_request_id: Uuid,
  payload: EncodedMessageSchema
})
/** `{"op":"routed_module_response", ...}` (struct variant). */
export const RoutedModuleResponseSchema = tagged('routed_module_response', {
  source_module_id: Type.String(),
  request_id: Uuid,
  payload: EncodedMessageSchema
})
/** `{"op":"heartbeat"}`. */
export const HeartbeatMessageSchema = tagged('heartbeat', {})

/** Every orchestrator → module message (docs/protocol.md §4.2). */
export const OrchestratorToModuleSchema = Type.Union([
  InitMessageSchema,
  SecretMessageSchema,
  RotatedMessageSchema,
  ShutdownMessageSchema,
  RegisterServiceProviderResponseMessageSchema,
  DiscoverServiceProvidersResponseMessageSchema,
  ServiceResponseMessageSchema,
  ServiceOperationResultMessageSchema,
  HttpRequestMessageSchema,
  PortResponseMessageSchema,
  RoutedModuleMessageSchema,
  RoutedModuleResponseSchema,
  HeartbeatMessageSchema
])

// ---------------------------------------------------------------------------
// Envelope and the stdio HTTP reply wrapper (docs/protocol.md §11.3, §9.2)
// ---------------------------------------------------------------------------

/** `MessageMetadata`: every field optional and omitted on output when absent. */
export const MessageMetadataSchema = Type.Object({
  id: Opt(Type.String()),
  timestamp: Opt(I64),
  source: Opt(Type.String()),
  destination: Opt(Type.String()),
  properties: Opt(JsonObject)
})

/** `Message<T>`: `{id, content, metadata}`. `metadata` may be missing (default `{}`) but not `null`. */
export function MessageSchema<T extends TSchema> (content: T) {
  return Type.Object({
    id: Uuid,
    content,
    metadata: Type.Optional(MessageMetadataSchema)
  })
}

/** `Message<serde_json::Value>`. */
export const EnvelopeSchema = MessageSchema(JsonValue)

/** `IpcHttpResponse` without `op`, as it appears inside the stdio wrapper. */
export const StdioHttpReplyContentSchema = IpcHttpResponseSchema

/**
 * The line Rust writes on stdout for every HTTP-over-stdio reply (docs/protocol.md §9.2):
 * `{"content": IpcHttpResponse, "metadata": {id, properties: {correlation_id}, source}}`.
 */
export const StdioHttpReplySchema = Type.Object({
  content: StdioHttpReplyContentSchema,
  metadata: Type.Object({
    id: Uuid,
    source: Type.String(),
    properties: Type.Object({ correlation_id: Type.String() })
  })
})

// ---------------------------------------------------------------------------
// HTTP over TCP, registration protocol, streaming, build info (docs/protocol.md §14.1, §14.2, §14.4, §14.5)
// ---------------------------------------------------------------------------

/** `HttpTcpRequest` (inside `Message<…>`); `body` is omitted on output when absent. */
export const HttpTcpRequestSchema = Type.Object({
  request_id: Type.String(),
  method: Type.String(),
  uri: Type.String(),
  headers: StringMap,
  body: Opt(ByteArray)
})

/** `HttpTcpResponse` (inside `Message<…>`); `body` is omitted on output when absent. */
export const HttpTcpResponseSchema = Type.Object({
  request_id: Type.String(),
  status_code: U16,
  headers: StringMap,
  body: Opt(ByteArray)
})

/** Registration `ModuleInfo`; `id` and `metadata` are omitted on output when absent. */
export const ModuleInfoSchema = Type.Object({
  name: Type.String(),
  version: Type.String(),
  description: Type.String(),
  id: Opt(Uuid),
  metadata: Opt(StringMap)
})

/** Registration `Endpoint`. */
export const RegistrationEndpointSchema = Type.Object({
  path: Type.String(),
  methods: Type.Array(Type.String()),
  auth: Opt(Type.String()),
  metadata: Opt(StringMap)
})

/** Registration `Capabilities`. */
export const CapabilitiesSchema = Type.Object({
  endpoints: Type.Array(RegistrationEndpointSchema),
  message_types: Opt(Type.Array(Type.String())),
  additional_capabilities: Opt(JsonObject)
})

/** `{"request_type":"register", module_info}`. */
export const RegistrationRequestSchema = Type.Object({
  request_type: Type.Literal('register'),
  module_info: ModuleInfoSchema
})

/** `{"request_type":"heartbeat", ...}`. */
export const RegistrationHeartbeatRequestSchema = Type.Object({
  request_type: Type.Literal('heartbeat'),
  module_id: Uuid,
  token: Type.String(),
  status: HealthStatusSchema,
  details: Opt(StringMap)
})

/** `{"request_type":"capabilities", ...}`. */
export const CapabilitiesRequestSchema = Type.Object({
  request_type: Type.Literal('capabilities'),
  module_id: Uuid,
  token: Type.String(),
  capabilities: CapabilitiesSchema
})

/** `{"request_type":"unregister", ...}`. */
export const UnregistrationRequestSchema = Type.Object({
  request_type: Type.Literal('unregister'),
  module_id: Uuid,
  token: Type.String()
})

/** Any registration-protocol request (the content of the request envelope). */
export const RegistrationProtocolRequestSchema = Type.Union([
  RegistrationRequestSchema,
  RegistrationHeartbeatRequestSchema,
  CapabilitiesRequestSchema,
  UnregistrationRequestSchema
])

/** `RegisteredModule`, returned by a successful registration. */
export const RegisteredModuleSchema = Type.Object({
  info: ModuleInfoSchema,
  id: Uuid,
  token: Type.String(),
  orchestrator_host: Type.String(),
  orchestrator_port: U16,
  env: Opt(StringMap),
  additional_data: Opt(JsonObject)
})

/** `RegistrationResponse` (bare, never enveloped). */
export const RegistrationResponseSchema = Type.Object({
  response_type: Type.String(),
  success: Type.Boolean(),
  error: Opt(Type.String()),
  module: Opt(RegisteredModuleSchema)
})

/** `HeartbeatResponse`; `status` is required even on failure. */
export const RegistrationHeartbeatResponseSchema = Type.Object({
  response_type: Type.String(),
  success: Type.Boolean(),
  error: Opt(Type.String()),
  status: HealthStatusSchema,
  context: Opt(JsonValue)
})

/** `CapabilitiesResponse` and `UnregistrationResponse` share this shape. */
export const RegistrationAckResponseSchema = Type.Object({
  response_type: Type.String(),
  success: Type.Boolean(),
  error: Opt(Type.String())
})

/** Streaming `StreamMetadata` (chunk 0 only). */
export const StreamMetadataSchema = Type.Object({
  total_size: U64,
  content_type: Opt(Type.String()),
  priority: StreamPrioritySchema,
  properties: JsonObject
})

/** Streaming `StreamChunk` in its default JSON form, framed with format code 2 by Rust. */
export const StreamChunkSchema = Type.Object({
  stream_id: Uuid,
  sequence: U64,
  total_chunks: U64,
  data: ByteArray,
  compressed: Type.Boolean(),
  checksum: U32,
  is_final: Type.Boolean(),
  stream_metadata: Opt(StreamMetadataSchema)
})

/** Streaming `StreamAck`: in-process only in Rust, never on the wire. */
export const StreamAckSchema = Type.Object({
  stream_id: Uuid,
  sequence: U64,
  success: Type.Boolean(),
  error: Opt(Type.String())
})

/** `BuildInfo` (docs/protocol.md §14.5). */
export const BuildInfoSchema = Type.Object({
  git_hash: Type.String(),
  build_time_utc: Type.String(),
  rustc_version: Type.String()
})

// ---------------------------------------------------------------------------
// Static types
// ---------------------------------------------------------------------------

/** `T` with `null` removed from every (nested) property type; free-form `unknown` stays as is. */
export type StripNull<T> = T extends readonly (infer U)[]
  ? Array<StripNull<U>>
  : T extends object ? { [K in keyof T]: StripNull<Exclude<T[K], null>> } : T

/**
 * The type of a decoded value of schema `T`. Decoders drop `Option` keys whose
 * value is `null` (serde reads `null` and absence alike), so consumers only
 * ever see "absent".
 */
export type Decoded<T extends TSchema> = StripNull<Static<T>>

/** @see {@link ServiceTypeSchema} */
export type ServiceType = Decoded<typeof ServiceTypeSchema>
/** @see {@link SecurityLevelSchema} */
export type SecurityLevel = Decoded<typeof SecurityLevelSchema>
/** @see {@link EncodingFormatSchema} */
export type EncodingFormat = Decoded<typeof EncodingFormatSchema>
/** @see {@link HealthStatusSchema} */
export type HealthStatus = Decoded<typeof HealthStatusSchema>
/** @see {@link TcpChannelConfigSchema} */
export type TcpChannelConfig = Decoded<typeof TcpChannelConfigSchema>
/** @see {@link IpcChannelConfigSchema} */
export type IpcChannelConfig = Decoded<typeof IpcChannelConfigSchema>
/** @see {@link InitBlobSchema} */
export type InitBlob = Decoded<typeof InitBlobSchema>
/** @see {@link EndpointAnnounceSchema} */
export type EndpointAnnounce = Decoded<typeof EndpointAnnounceSchema>
/** @see {@link AnnounceBlobSchema} */
export type AnnounceBlob = Decoded<typeof AnnounceBlobSchema>
/** @see {@link EncodedMessageSchema} */
export type EncodedMessage = Decoded<typeof EncodedMessageSchema>
/** @see {@link IpcHttpRequestSchema} */
export type IpcHttpRequest = Decoded<typeof IpcHttpRequestSchema>
/** @see {@link IpcHttpResponseSchema} */
export type IpcHttpResponse = Decoded<typeof IpcHttpResponseSchema>
/** @see {@link ServiceProviderInfoSchema} */
export type ServiceProviderInfo = Decoded<typeof ServiceProviderInfoSchema>
/** A module → orchestrator message (docs/protocol.md §4.1). */
export type ModuleMessage = Decoded<typeof ModuleToOrchestratorSchema>
/** {@link ModuleMessage} or the unserialisable `identify`, as the encoder accepts it. */
export type ModuleMessageOrIdentify = ModuleMessage | Decoded<typeof IdentifyMessageSchema>
/**
 * `http_request` as decoded: the body's byte array arrives as a `Buffer` (it is
 * only ever used as bytes, and 16 KiB of JS numbers would be pure overhead).
 */
export type HttpRequestMessage = Omit<Extract<Decoded<typeof OrchestratorToModuleSchema>, { op: 'http_request' }>, 'body'> & { body?: Buffer }
/** An orchestrator → module message (docs/protocol.md §4.2), discriminated on `op`. */
export type OrchestratorMessage = Exclude<Decoded<typeof OrchestratorToModuleSchema>, { op: 'http_request' }> | HttpRequestMessage
/** @see {@link MessageMetadataSchema} */
export type MessageMetadata = Decoded<typeof MessageMetadataSchema>
/** A decoded `Message<T>` envelope; `metadata` is always present after decoding. */
export interface Envelope<T = unknown> {
  id: string
  content: T
  metadata: MessageMetadata
}
/** @see {@link StdioHttpReplySchema} */
export type StdioHttpReply = Decoded<typeof StdioHttpReplySchema>
/** @see {@link HttpTcpRequestSchema} */
export type HttpTcpRequest = Decoded<typeof HttpTcpRequestSchema>
/** @see {@link HttpTcpResponseSchema} */
export type HttpTcpResponse = Decoded<typeof HttpTcpResponseSchema>
/** @see {@link ModuleInfoSchema} */
export type ModuleInfo = Decoded<typeof ModuleInfoSchema>
/** @see {@link RegistrationProtocolRequestSchema} */
export type RegistrationProtocolRequest = Decoded<typeof RegistrationProtocolRequestSchema>
/** @see {@link RegistrationResponseSchema} */
export type RegistrationResponse = Decoded<typeof RegistrationResponseSchema>
/** @see {@link RegistrationHeartbeatResponseSchema} */
export type RegistrationHeartbeatResponse = Decoded<typeof RegistrationHeartbeatResponseSchema>
/** @see {@link RegistrationAckResponseSchema} */
export type RegistrationAckResponse = Decoded<typeof RegistrationAckResponseSchema>
/** @see {@link StreamChunkSchema} */
export type StreamChunk = Decoded<typeof StreamChunkSchema>
/** @see {@link BuildInfoSchema} */
export type BuildInfo = Decoded<typeof BuildInfoSchema>
