import t, { type Test } from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import {
  BuildInfoSchema, RegistrationProtocolRequestSchema, StreamAckSchema, StreamChunkSchema,
  decodeEncodedMessage, decodeEnvelope, decodeEnvelopeOf, decodeFramePayload, decodeHttpTcpRequest,
  decodeHttpTcpResponse, decodeInit, decodeModuleFrame, decodeModuleMessage, decodeOrchestratorFrame,
  decodeOrchestratorMessage, decodeRegistrationResponse, decodeWithSchema, encodeEncodedMessage, encodeEnvelope,
  encodeFrame, encodeHttpReply, encodeHttpTcpResponse, encodeModuleEnvelope, encodeModuleMessage,
  encodeOrchestratorMessage, encodeRegistrationRequest, encodeStreamChunk, encodedMessageValue, parseStrictJson,
  readFrame, type Encodable, type ModuleMessageOrIdentify, type RegistrationResponseKind
} from '../../lib/protocol/index.js'

/**
 * Every vector of every file in test/fixtures/vectors (the contract recorded
 * from the Rust SDK, docs/protocol.md §1.2) is exercised here. Each file's handler must account
 * for each of its vectors: the test counts them and fails when one falls
 * through, and fails when a vector file has no handler.
 */

interface Vector {
  name: string
  direction: 'orchestrator_to_module' | 'module_to_orchestrator'
  transport: string
  json: any
  wire_text?: string
  frame_hex?: string
  frame_format_code?: number
  rust_accepts?: boolean
  rust_decode?: string
  rust_serialize_error?: string
  body_text?: string
}

type T = Test
const VECTOR_DIR = new URL('../fixtures/vectors/', import.meta.url)
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
const PROTOCOL_ERROR = 'FST_PYWATT_PROTOCOL'

function load (file: string): Vector[] {
  return JSON.parse(readFileSync(new URL(file, VECTOR_DIR), 'utf8')) as Vector[]
}

/**
 * Why each vector Rust rejects (rust_accepts false, or no verdict but a fatal
 * framing error) is rejected by the TS decoders: the error must name this.
 */
const REJECTIONS: Record<string, RegExp> = {
  // init.json
  init_missing_env: /missing field `env`/,
  init_env_null: /field `env`: expected an object of strings, got null/,
  init_env_non_string_value: /field `env\.PORT`: expected a string/,
  init_tcp_channel_hostname: /field `tcp_channel\.address`: .*invalid socket address/,
  init_tcp_channel_missing_flags: /missing field `tcp_channel\.tls_enabled`/,
  init_listen_number: /field `listen`: expected a string/,
  init_security_level_lowercase: /field `security_level`: unknown variant `token`, expected one of `None`, `Token`, `Mtls`/,
  init_security_level_null: /field `security_level`: .*got null/,
  init_malformed_json: /invalid JSON/,
  init_empty_line: /invalid JSON/,
  init_other_message_first: /missing field `orchestrator_api`/,
  // invalid_stdio.json
  malformed_json_line: /invalid JSON/,
  empty_line: /invalid JSON/,
  whitespace_line: /invalid JSON/,
  unknown_op: /unknown op `reboot`/,
  op_wrong_case: /unknown op `Heartbeat`.*case-sensitive/,
  missing_op: /missing field `op`/,
  op_not_a_string: /field `op`: expected a string, got an integer/,
  duplicate_op: /duplicate key `op`/,
  duplicate_field: /duplicate key `name`/,
  json_array_line: /expected a JSON object, got an array/,
  two_objects_one_line: /invalid JSON/,
  enveloped_message_on_stdin: /missing field `op`/,
  lone_surrogate_escape: /field `value`: string contains a lone surrogate/,
  identify_sent_to_module: /unknown op `identify`/,
  // frames.json
  frame_format_code_0: /invalid frame format byte 0/,
  frame_format_code_4: /invalid frame format byte 4/,
  frame_invalid_json_payload: /invalid JSON/,
  frame_binary_bincode_payload: /format 2 \(Binary\) frame payload is not JSON/,
  frame_zero_length: /invalid JSON/,
  // port_response.json
  port_response_missing_port: /missing field `port`/,
  port_response_python_allocated_port: /missing field `port`/,
  port_response_port_out_of_range: /field `port`: expected an integer 0\.\.65535, got an integer out of range/,
  port_response_port_float: /field `port`: expected an integer, got a float literal/,
  // http_request.json
  http_request_body_string: /field `body`: expected an array of integers 0\.\.255, got a string/,
  http_request_body_byte_out_of_range: /field `body\[0\]`: expected an integer 0\.\.255/,
  http_request_missing_headers: /missing field `headers`/,
  http_request_multi_value_header: /field `headers\.accept`: expected a string, got an array/,
  // http_response.json (read by the orchestrator side)
  http_response_status_out_of_range: /field `status_code`: expected an integer 0\.\.65535/,
  // encoded_message.json
  encoded_message_lowercase_format: /field `format`: unknown variant `json`, expected one of `Json`/,
  encoded_message_missing_format: /missing field `format`/,
  encoded_message_string_data: /field `data`: expected an array of integers 0\.\.255, got a string/,
  // message_envelope.json
  envelope_metadata_null: /field `metadata`: expected an object, got null/,
  envelope_missing_id: /missing field `id`/,
  envelope_bad_id: /field `id`: expected a UUID/,
  // registration_protocol.json
  register_response_enveloped: /missing field `response_type`/,
  heartbeat_response_lowercase_status: /field `status`: unknown variant `healthy`/,
  // http_tcp.json
  http_tcp_request_bare: /missing field `id`/,
  // rotated.json
  rotated_missing_rotation_id: /missing field `rotation_id`/,
  // routed_module_response.json
  routed_module_response_bad_uuid: /field `request_id`: expected a UUID/,
  routed_module_response_lowercase_format: /field `payload\.format`: unknown variant `json`/,
  routed_module_response_string_data: /field `payload\.data`: expected an array of integers 0\.\.255/,
  // secret.json
  secret_missing_value: /missing field `value`/,
  secret_python_nested_shape: /missing field `name`/,
  // service_response.json
  service_response_custom_python_string: /field `service_type`: expected "Database", "Cache", "Jwt" or \{"Custom": name\}/,
  service_response_lowercase_type: /field `service_type`: /,
  // announce.json / identify.json (module → orchestrator, read by pywatt-dev)
  announce_python_bare_blob: /missing field `op`/,
  identify_candidate_object: /op `identify` cannot be decoded/,
  identify_candidate_bare: /op `identify` cannot be decoded/
}

/**
 * Vectors Rust rejects but the TS SDK deliberately accepts (docs/protocol.md §5.2,
 * §11.3, §9.2): each asserts the extension's normalised result instead.
 */
const EXTENSIONS: Record<string, (t: T, v: Vector) => void> = {
  init_python_tcp_channel_host_port (t, v) {
    const init = decodeInit(v.wire_text as string)
    t.same(init.tcp_channel, { address: '127.0.0.1:9901', tls_enabled: false, required: false }, 'Python host/port normalised to address')
    t.equal(init.listen, '127.0.0.1:4102')
  },
  init_python_unix_listen_object (t, v) {
    const init = decodeInit(v.wire_text as string)
    t.equal(init.listen, '/tmp/m.sock', '{"Unix": path} normalised to the path')
  },
  frame_orchestrator_enveloped_message (t, v) {
    const frame = frameOf(v)
    t.same(decodeOrchestratorFrame(frame.format, frame.payload), { op: 'heartbeat' }, 'enveloped frame unwrapped (docs/protocol.md §11.3)')
  },
  http_response_stdout_wrapper (t, v) {
    checkHttpReplyWrapper(t, v)
  }
}

/** Fresh values compared by format: paths (dot-separated) whose values must be UUID v4. */
function sameWithFreshIds (t: T, actual: any, expected: any, paths: string[], msg: string): void {
  const a = structuredClone(actual)
  const e = structuredClone(expected)
  for (const path of paths) {
    const keys = path.split('.')
    const last = keys.pop() as string
    const pa = keys.reduce((o, k) => o[k], a)
    const pe = keys.reduce((o, k) => o[k], e)
    t.match(pa[last], UUID_V4, `${msg}: ${path} is a fresh UUID v4`)
    pa[last] = '<uuid>'
    pe[last] = '<uuid>'
  }
  t.same(a, e, msg)
}

/** Null-valued keys removed everywhere: decoders drop null Options, and null vs absent is the same to serde. */
function withoutNulls (value: any): any {
  if (Array.isArray(value)) return value.map(withoutNulls)
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null).map(([k, v]) => [k, withoutNulls(v)]))
  }
  return value
}

/** The vector's frame; vectors that only give the payload text are framed here (format 1). */
function frameOf (v: Vector): { format: number, payload: Buffer } {
  const bytes = v.frame_hex === undefined ? encodeFrame(v.wire_text as string) : Buffer.from(v.frame_hex, 'hex')
  const frame = readFrame(bytes)
  if (frame === undefined) throw new Error(`vector ${v.name}: incomplete frame`)
  return frame
}

/** The JSON text of a format-1 frame's payload. */
function decodeFrameText (v: Vector): string {
  const frame = frameOf(v)
  if (frame.format !== 1) throw new Error(`vector ${v.name}: expected a format-1 frame`)
  return frame.payload.toString('utf8')
}

function checkHttpReplyWrapper (t: T, v: Vector): boolean {
  const { content, metadata } = v.json
  const ours = JSON.parse(encodeHttpReply(content, metadata.source))
  sameWithFreshIds(t, ours, v.json, ['metadata.id'], 'encodeHttpReply matches Rust\'s wrapper')
  t.equal(ours.metadata.properties.correlation_id, content.request_id)
  t.equal(Object.keys(ours).join(), 'content,metadata', 'no op, no top-level id')
  const decoded = decodeModuleMessage(v.wire_text as string)
  t.equal(decoded.op, 'http_reply', 'decodeModuleMessage recognises the wrapper')
  t.same(decoded, { op: 'http_reply', ...v.json })
  return true
}

/** The decoder a reader of orchestrator → module bytes uses, by transport. */
function orchestratorDecoder (v: Vector): () => unknown {
  switch (v.transport) {
    case 'stdio (first line)':
      return () => decodeInit(v.wire_text as string)
    case 'stdio':
    case 'stdio or tcp_frame (bare)':
      return () => decodeOrchestratorMessage(v.wire_text as string)
    case 'tcp_or_uds_frame':
      return () => {
        const frame = frameOf(v)
        return decodeOrchestratorFrame(frame.format, frame.payload)
      }
    case 'embedded':
      return () => decodeEncodedMessage(v.wire_text as string)
    case 'input tolerance':
      return () => decodeEnvelope(v.wire_text as string)
    case 'registration_tcp_frame': {
      const kind = v.name.split('_')[0] as RegistrationResponseKind
      return () => decodeRegistrationResponse(decodeFrameText(v), kind)
    }
    case 'http_tcp_frame':
      return () => decodeHttpTcpRequest(decodeFrameText(v))
    default:
      throw new Error(`vector ${v.name}: no decoder for transport ${v.transport}`)
  }
}

/** What a decoder returns for an accepted vector, derived from its `json`. */
function expectedDecode (v: Vector): unknown {
  const json = withoutNulls(v.json)
  if (v.transport === 'stdio (first line)') {
    // decodeInit returns the InitBlob fields only, in the Rust shape.
    const keys = ['orchestrator_api', 'module_id', 'env', 'listen', 'tcp_channel', 'ipc_channel', 'auth_token', 'security_level']
    return { security_level: 'None', ...Object.fromEntries(Object.entries(json).filter(([k]) => keys.includes(k))) }
  }
  if (v.json?.op === 'init') json.security_level ??= 'None'
  if (v.name === 'routed_module_message_simple_uuid') json.original_request_id = '0b9f4c2e-1a3d-4e5f-8a7b-6c5d4e3f2a10'
  if (v.transport === 'input tolerance') json.metadata ??= {}
  return json
}

function handleOrchestratorToModule (t: T, v: Vector): boolean {
  if (v.name === 'stdin_eof') {
    // No bytes at all: EOF is a transport event, not a decodable line.
    t.equal(v.wire_text, undefined)
    t.equal(v.json, null)
    return true
  }
  if (v.transport === 'http (token payload)') {
    // A JWT claims example, not a wire message: recorded as a reference only.
    t.same(parseStrictJson(v.wire_text as string), v.json)
    return true
  }
  const decode = orchestratorDecoder(v)
  const extension = EXTENSIONS[v.name]
  if (extension !== undefined) {
    t.equal(v.rust_accepts, false, 'an extension only where Rust rejects')
    extension(t, v)
    return true
  }
  if (v.rust_accepts === true) {
    const decoded = decode() as Record<string, unknown>
    t.same(withoutNulls(decoded), expectedDecode(v), `${v.name} decodes to its json`)
    if (typeof v.json?.op === 'string' && v.transport !== 'stdio (first line)') {
      t.equal(decoded.op, v.json.op)
      checkOrchestratorReencode(t, decoded)
    }
    if (v.frame_hex !== undefined && v.wire_text !== undefined && v.frame_format_code === 1) {
      t.equal(frameOf(v).payload.toString('utf8'), v.wire_text, 'frame payload is the wire text')
    }
    return true
  }
  const why = REJECTIONS[v.name]
  t.ok(why, `${v.name}: rejection reason listed`)
  t.throws(decode, { code: PROTOCOL_ERROR, message: why as RegExp }, `${v.name} rejected`)
  return true
}

/** Encoding a decoded message again keeps every field (nulls and absence being equal). */
function checkOrchestratorReencode (t: T, decoded: Record<string, unknown>): void {
  const again = JSON.parse(encodeOrchestratorMessage(decoded as any))
  const redecoded = decodeOrchestratorMessage(JSON.stringify(again)) as Record<string, unknown>
  // Decoded http_request bodies are Buffers; on the wire they are arrays.
  const plain = (v: unknown): unknown => Buffer.isBuffer(v) ? [...v] : v
  for (const key of Object.keys(again)) t.same(withoutNulls(again[key]), withoutNulls(plain(decoded[key])), `re-encoded ${key}`)
  const known = Object.fromEntries(Object.keys(again).filter((k) => decoded[k] !== undefined).map((k) => [k, decoded[k]]))
  t.same(withoutNulls(redecoded), withoutNulls(known), 'decoding the re-encoding gives the same message')
}

/** For module vectors that Rust accepts but would not write itself: what Rust writes for the same value. */
const RUST_WRITES: Record<string, unknown> = {
  // `auth` has skip_serializing_if: None is omitted, never written as null.
  announce_auth_null_input: { op: 'announce', listen: '127.0.0.1:4102', endpoints: [{ path: '/status', methods: ['GET'] }] }
}

function handleModuleMessage (t: T, v: Vector): boolean {
  const json = v.json
  if (json === null || json.op === 'identify') {
    // identify has no wire form (docs/protocol.md §4.4): refuse to encode it, and refuse to decode any object form.
    t.throws(() => encodeModuleMessage({ op: 'identify', module_id: 'my-module' }), { code: 'FST_PYWATT_ENCODE', message: /identify/ })
    if (v.wire_text !== undefined) t.throws(() => decodeModuleMessage(v.wire_text as string), { code: PROTOCOL_ERROR, message: REJECTIONS[v.name] as RegExp })
    else t.match(v.rust_serialize_error, /cannot serialize tagged newtype variant/)
    return true
  }
  if (v.rust_accepts === false) {
    const why = REJECTIONS[v.name]
    t.ok(why, `${v.name}: rejection reason listed`)
    t.throws(() => decodeModuleMessage(v.wire_text as string), { code: PROTOCOL_ERROR, message: why as RegExp })
    // Neither can it be produced.
    t.throws(() => encodeModuleMessage(json as Encodable<ModuleMessageOrIdentify>), { code: 'FST_PYWATT_ENCODE' })
    return true
  }
  // Input-tolerance vectors show what Rust reads, not what it writes: expect Rust's output instead.
  const rustOutput = RUST_WRITES[v.name] ?? json
  const ours = JSON.parse(encodeModuleMessage(json))
  t.same(ours, rustOutput, `${v.name}: encodes to Rust's JSON`)
  // Absent instead of null at the message level (nested nulls may be free-form JSON, kept as they are).
  const absent = Object.fromEntries(Object.entries(json).filter(([, x]) => x !== null))
  t.same(JSON.parse(encodeModuleMessage(absent as any)), rustOutput, `${v.name}: absent fields come out as Rust writes them`)
  t.equal(encodeModuleMessage(json), JSON.stringify(ours), 'compact JSON without newline')
  t.same(Object.keys(ours), Object.keys(rustOutput), 'Rust field order')
  const decoded = decodeModuleMessage(v.wire_text as string)
  t.same(withoutNulls(decoded), withoutNulls(json), `${v.name}: decodeModuleMessage round-trips`)
  return true
}

function handleModuleEnvelopeFrame (t: T, v: Vector): boolean {
  const { content, metadata } = v.json
  const payload = encodeModuleEnvelope(content, metadata)
  const frame = encodeFrame(payload)
  const cut = readFrame(frame)
  t.ok(cut)
  t.equal(cut?.format, 1, 'format byte 1')
  t.equal(cut?.size, frame.length)
  t.equal(frame.readUInt32BE(0), Buffer.byteLength(payload), 'length counts the payload only')
  sameWithFreshIds(t, JSON.parse(payload), v.json, ['id'], `${v.name}: enveloped frame matches`)
  t.equal(frame.length, Buffer.from(v.frame_hex as string, 'hex').length, 'same frame size as Rust\'s')
  const theirs = frameOf(v)
  const decoded = decodeModuleFrame(theirs.format, theirs.payload)
  t.same(withoutNulls(decoded), withoutNulls({ ...v.json, metadata: v.json.metadata ?? {} }), 'decodeModuleFrame reads Rust\'s frame')
  return true
}

const M2O_FRAME_ENVELOPES = new Set(['tcp_or_uds_frame', 'tcp_frame'])

function handleModuleToOrchestrator (t: T, v: Vector): boolean {
  if (v.name.startsWith('identify_')) return handleModuleMessage(t, v)
  switch (v.transport) {
    case 'stdio':
    case 'stdio (never by Rust)':
    case 'tcp_frame (enveloped)':
    case 'tcp_frame content':
    case 'tcp_or_uds_frame content':
    case 'hypothetical':
      if (v.name.startsWith('http_response_stdout_wrapper')) return checkHttpReplyWrapper(t, v)
      return handleModuleMessage(t, v)
    case 'tcp_or_uds_frame payload': {
      const ours = JSON.parse(encodeEnvelope(v.json.content, v.json.metadata))
      sameWithFreshIds(t, ours, v.json, ['id'], `${v.name}: envelope matches`)
      t.same(decodeEnvelope(v.wire_text as string), v.json, 'decodeEnvelope round-trips')
      return true
    }
    case 'embedded': {
      t.same(JSON.parse(encodeEncodedMessage(v.json)), v.json, `${v.name}: EncodedMessage matches`)
      t.same(decodeEncodedMessage(v.wire_text as string), v.json)
      t.same(encodedMessageValue(v.json), { a: 1 }, 'carries {"a":1}')
      return true
    }
    case 'inside EncodedMessage.data': {
      const ours = JSON.parse(encodeEnvelope(v.json.content))
      sameWithFreshIds(t, ours, v.json, ['id'], 'inner payload envelope matches')
      const outer = load('route_to_module.json').find((x) => x.name === 'route_to_module_content_only') as Vector
      t.same(encodedMessageValue(outer.json.payload), v.json, 'it is what route_to_module carries')
      return true
    }
    case 'registration_tcp_frame': {
      const ours = JSON.parse(encodeRegistrationRequest(v.json.content))
      sameWithFreshIds(t, ours, v.json, ['id', 'metadata.id'], `${v.name}: registration request matches`)
      const decoded = decodeEnvelopeOf(RegistrationProtocolRequestSchema, decodeFrameText(v))
      t.same(decoded, v.json, 'decodes as an enveloped registration request')
      return true
    }
    case 'service_discovery_tcp_frame': {
      const ours = JSON.parse(encodeModuleEnvelope(v.json.content, { id: v.json.metadata.id }))
      sameWithFreshIds(t, ours, v.json, ['id'], `${v.name}: service-discovery envelope matches`)
      const frame = frameOf(v)
      t.same(withoutNulls(decodeModuleFrame(frame.format, frame.payload)), withoutNulls(v.json))
      return true
    }
    case 'http_tcp_frame': {
      const ours = JSON.parse(encodeHttpTcpResponse(v.json.content))
      sameWithFreshIds(t, ours, v.json, ['id'], `${v.name}: HTTP-over-TCP response matches`)
      t.same(decodeHttpTcpResponse(decodeFrameText(v)), v.json)
      return true
    }
    case 'http body / library value':
      t.same(decodeWithSchema(BuildInfoSchema, v.wire_text as string), v.json, 'BuildInfo shape')
      return true
    case 'http body (GET /health)':
      // Rust health bodies: reference for the TS health route ({git,time,node,status}); only the status is shared.
      t.same(parseStrictJson(v.wire_text as string), v.json)
      t.equal(v.json.status, 'OK')
      return true
    case 'http body (stub over TCP/UDS channel)':
      // Rust's truncated stub body is invalid JSON; the TS SDK routes to the real app instead (docs/protocol.md §11.5).
      t.equal(v.json, null)
      t.throws(() => parseStrictJson(v.body_text as string), { code: PROTOCOL_ERROR })
      return true
    case 'http body': {
      t.same(parseStrictJson(v.wire_text as string), v.json)
      const response = load('http_tcp.json').find((x) => x.name === 'http_tcp_response_not_found') as Vector
      t.same(JSON.parse(Buffer.from(response.json.content.body).toString('utf8')), v.json, 'it is the body of the 404 frame')
      return true
    }
    case 'http (401 response body)':
    case 'http (500 response body)':
      // Rust's JWT error bodies. The TS JWT plugin need not replicate them word
      // for word; they are kept as reference, and must at least be `{error: string}`.
      t.same(parseStrictJson(v.wire_text as string), v.json)
      t.type(v.json.error, 'string')
      return true
    case 'not on the wire':
      t.same(decodeWithSchema(StreamAckSchema, v.wire_text as string), withoutNulls(v.json), 'in-process StreamAck shape')
      return true
    default:
      if (M2O_FRAME_ENVELOPES.has(v.transport)) {
        if (v.name === 'stream_chunk_single') return handleStreamChunk(t, v)
        return handleModuleEnvelopeFrame(t, v)
      }
      t.fail(`${v.name}: unhandled transport ${v.transport}`)
      return false
  }
}

function handleStreamChunk (t: T, v: Vector): boolean {
  t.same(JSON.parse(encodeStreamChunk(v.json)), v.json, 'StreamChunk JSON matches')
  const frame = frameOf(v)
  t.equal(frame.format, 2, 'Rust frames chunks with format 2 (JSON bytes)')
  t.throws(() => encodeFrame(encodeStreamChunk(v.json), 2), { code: 'FST_PYWATT_ENCODE' }, 'the SDK never emits format 2')
  const chunk = decodeWithSchema(StreamChunkSchema, JSON.stringify(decodeFramePayload(frame.format, frame.payload)))
  t.same(chunk, v.json)
  t.equal(chunk.data.reduce((a, b) => (a + b) >>> 0, 0), chunk.checksum, 'checksum is the wrapping byte sum')
  return true
}

const files = readdirSync(VECTOR_DIR).filter((f) => f.endsWith('.json')).sort()

t.test('the vector directory holds the full contract', async (t) => {
  t.ok(files.length >= 34, `${files.length} vector files`)
})

for (const file of files) {
  t.test(file, async (t) => {
    const vectors = load(file)
    t.ok(vectors.length > 0, 'has vectors')
    t.equal(new Set(vectors.map((v) => v.name)).size, vectors.length, 'unique names')
    // Counted only when a handler recognised the vector and ran its checks.
    let handled = 0
    for (const v of vectors) {
      await t.test(v.name, async (t) => {
        const ok = v.direction === 'orchestrator_to_module'
          ? handleOrchestratorToModule(t, v)
          : v.direction === 'module_to_orchestrator' && handleModuleToOrchestrator(t, v)
        if (ok) handled++
        else t.fail(`${v.name}: not handled`)
      })
    }
    t.equal(handled, vectors.length, `all ${vectors.length} vectors of ${file} exercised`)
  })
}

t.test('every listed rejection and extension belongs to a vector', async (t) => {
  const names = new Set(files.flatMap((f) => load(f).map((v) => v.name)))
  for (const name of [...Object.keys(REJECTIONS), ...Object.keys(EXTENSIONS)]) t.ok(names.has(name), name)
})
