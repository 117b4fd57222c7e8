import t from 'tap'
import {
  bytesToJsonArray, decodeEnvelope, decodeInit, decodeModuleMessage, decodeOrchestratorMessage, encodeEncodedMessage,
  encodeEnvelope, encodeHttpReply, encodeHttpReplyParts, encodeHttpTcpRequest, encodeHttpTcpResponse, encodeInitBlob, encodeModuleEnvelope,
  encodeModuleMessage, encodeOrchestratorMessage, encodeRegistrationRequest, encodeStreamChunk, encodedMessageFromValue,
  encodedMessageValue
} from '../../lib/protocol/index.js'

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
const ENCODE_ERROR = 'FST_PYWATT_ENCODE'
const ID = '0b9f4c2e-1a3d-4e5f-8a7b-6c5d4e3f2a10'

t.test('module messages: null versus omitted, field order', async (t) => {
  const cases: Array<[unknown, string]> = [
    [{ op: 'announce', listen: '127.0.0.1:4102', endpoints: [{ path: '/a', methods: ['GET'] }, { path: '/b', methods: ['GET', 'POST'], auth: 'jwt' }] },
      '{"op":"announce","listen":"127.0.0.1:4102","endpoints":[{"path":"/a","methods":["GET"]},{"path":"/b","methods":["GET","POST"],"auth":"jwt"}]}'],
    [{ op: 'announce', listen: 'x', endpoints: [{ auth: null, methods: [], path: '/' }] }, '{"op":"announce","listen":"x","endpoints":[{"path":"/","methods":[]}]}'],
    [{ op: 'get_secret', name: 'DATABASE_URL' }, '{"op":"get_secret","name":"DATABASE_URL"}'],
    [{ op: 'rotation_ack', rotation_id: 'r', status: 'success' }, '{"op":"rotation_ack","rotation_id":"r","status":"success"}'],
    [{ op: 'rotation_ack', rotation_id: 'r', status: 'error', message: 'boom' }, '{"op":"rotation_ack","rotation_id":"r","status":"error","message":"boom"}'],
    [{ op: 'register_service_provider', service_type: { Custom: 'geo' }, name: 'n', address: 'a' },
      '{"op":"register_service_provider","service_type":{"Custom":"geo"},"name":"n","version":null,"address":"a","metadata":null}'],
    [{ op: 'discover_service_providers', service_type: 'Jwt' }, '{"op":"discover_service_providers","service_type":"Jwt","all_providers":null}'],
    [{ op: 'discover_service_providers', service_type: 'Cache', all_providers: false }, '{"op":"discover_service_providers","service_type":"Cache","all_providers":false}'],
    [{ op: 'service_request', id: 'db_request_1', service_type: 'Database' }, '{"op":"service_request","id":"db_request_1","service_type":"Database","config":null}'],
    [{ op: 'service_operation', connection_id: 'c', service_type: 'Cache', operation: 'ping' }, '{"op":"service_operation","connection_id":"c","service_type":"Cache","operation":"ping","params":null}'],
    [{ op: 'http_response', request_id: 'r', status_code: 204, headers: {} }, '{"op":"http_response","request_id":"r","status_code":204,"headers":{},"body":null}'],
    [{ op: 'http_response', request_id: 'r', status_code: 200, headers: { a: 'b' }, body: Buffer.from('OK') }, '{"op":"http_response","request_id":"r","status_code":200,"headers":{"a":"b"},"body":[79,75]}'],
    [{ op: 'port_request', request_id: 'r' }, '{"op":"port_request","request_id":"r","specific_port":null}'],
    [{ op: 'port_request', request_id: 'r', specific_port: 65535 }, '{"op":"port_request","request_id":"r","specific_port":65535}'],
    [{ op: 'route_to_module', target_module_id: 'm', target_endpoint: 'e', request_id: '{0B9F4C2E-1A3D-4E5F-8A7B-6C5D4E3F2A10}'.slice(1, -1), payload: { data: new Uint8Array([123, 125]), format: 'Json' } },
      `{"op":"route_to_module","target_module_id":"m","target_endpoint":"e","request_id":"${ID}","payload":{"data":[123,125],"format":"Json"}}`],
    [{ op: 'heartbeat_ack' }, '{"op":"heartbeat_ack"}']
  ]
  for (const [message, wire] of cases) {
    const out = encodeModuleMessage(message as any)
    t.equal(out, wire, wire)
    t.notOk(out.endsWith('\n'), 'no trailing newline')
    decodeModuleMessage(out)
  }
})

t.test('module messages: refused values', async (t) => {
  const bad: Array<[unknown, RegExp]> = [
    [{ op: 'identify', module_id: 'm' }, /`identify` has no wire form.*\(docs\/protocol.md §4.4\)/],
    [{ op: 'reboot' }, /unknown op `reboot`/],
    [{ op: 5 }, /unknown op an integer/],
    [{}, /unknown op nothing/],
    [{ op: 'get_secret' }, /field `name`: expected a string, got nothing/],
    [{ op: 'get_secret', name: 'a\ud800' }, /field `name`: string contains a lone surrogate/],
    [{ op: 'http_response', request_id: 'r', status_code: 70000, headers: {} }, /field `status_code`: expected an integer 0\.\.65535, got an integer/],
    [{ op: 'http_response', request_id: 'r', status_code: 200.5, headers: {} }, /field `status_code`: .*got a non-integer number/],
    [{ op: 'http_response', request_id: 'r', status_code: 200, headers: { a: 1 } }, /field `headers\.a`: expected a string/],
    [{ op: 'http_response', request_id: 'r', status_code: 200, headers: [] }, /field `headers`: expected an object of strings, got an array/],
    [{ op: 'http_response', request_id: 'r', status_code: 200, headers: { 'x\ud800': 'v' } }, /field `headers`: string contains a lone surrogate/],
    [{ op: 'http_response', request_id: 'r', status_code: 200, headers: {}, body: [1, 256] }, /field `body\[1\]`: expected an integer 0\.\.255/],
    [{ op: 'http_response', request_id: 'r', status_code: 200, headers: {}, body: [1.5] }, /field `body\[0\]`/],
    [{ op: 'http_response', request_id: 'r', status_code: 200, headers: {}, body: ['1'] }, /field `body\[0\]`/],
    [{ op: 'http_response', request_id: 'r', status_code: 200, headers: {}, body: 'hi' }, /field `body`: expected bytes/],
    [{ op: 'service_request', id: 'i', service_type: 'database' }, /field `service_type`: expected "Database", "Cache", "Jwt" or \{"Custom": name\}/],
    [{ op: 'service_request', id: 'i', service_type: { Custom: 'x', extra: 1 } }, /field `service_type`/],
    [{ op: 'service_request', id: 'i', service_type: null }, /field `service_type`/],
    [{ op: 'service_request', id: 'i', service_type: { Custom: 5 } }, /field `service_type\.Custom`: expected a string/],
    [{ op: 'service_request', id: 'i', service_type: 'Jwt', config: { token: '\udc00' } }, /field `config`: string contains a lone surrogate/],
    [{ op: 'service_request', id: 'i', service_type: 'Jwt', config: { n: 1n } }, /field `config`: not serialisable as JSON/],
    [{ op: 'service_operation', connection_id: 'c', service_type: 'Jwt', operation: 'o', params: () => 1 }, /field `params`: expected a JSON value/],
    [{ op: 'discover_service_providers', service_type: 'Jwt', all_providers: 'yes' }, /field `all_providers`: expected a boolean/],
    [{ op: 'route_to_module', target_module_id: 'm', target_endpoint: 'e', request_id: 'nope', payload: { data: [], format: 'Json' } }, /field `request_id`: expected a UUID/],
    [{ op: 'route_to_module', target_module_id: 'm', target_endpoint: 'e', request_id: ID, payload: null }, /field `payload`: expected an object, got null/],
    [{ op: 'route_to_module', target_module_id: 'm', target_endpoint: 'e', request_id: ID, payload: { data: [], format: 'json' } }, /field `payload\.format`: expected one of Json, Binary, Base64, Auto/],
    [{ op: 'announce', listen: 'x', endpoints: {} }, /field `endpoints`: expected an array/],
    [{ op: 'announce', listen: 'x', endpoints: [{ path: '/', methods: [1] }] }, /field `endpoints\[0\]\.methods\[0\]`: expected a string/]
  ]
  for (const [message, why] of bad) {
    t.throws(() => encodeModuleMessage(message as any), { code: ENCODE_ERROR, message: why }, String(why))
  }
})

t.test('orchestrator messages', async (t) => {
  const cases: Array<[unknown, string]> = [
    [{ op: 'init', orchestrator_api: 'http://o', module_id: 'm', env: { A: 'b' }, listen: '127.0.0.1:1' },
      '{"op":"init","orchestrator_api":"http://o","module_id":"m","env":{"A":"b"},"listen":"127.0.0.1:1","security_level":"None"}'],
    [{ op: 'init', orchestrator_api: 'o', module_id: 'm', env: {}, listen: '/s', tcp_channel: { address: '[::1]:9', tls_enabled: true, required: false }, ipc_channel: { socket_path: '/i', required: true }, auth_token: 't', security_level: 'Mtls' },
      '{"op":"init","orchestrator_api":"o","module_id":"m","env":{},"listen":"/s","tcp_channel":{"address":"[::1]:9","tls_enabled":true,"required":false},"ipc_channel":{"socket_path":"/i","required":true},"auth_token":"t","security_level":"Mtls"}'],
    [{ op: 'secret', name: 'K', value: 'v' }, '{"op":"secret","name":"K","value":"v"}'],
    [{ op: 'secret', name: 'K', value: 'v', rotation_id: 'r' }, '{"op":"secret","name":"K","value":"v","rotation_id":"r"}'],
    [{ op: 'rotated', keys: ['A', 'B'], rotation_id: 'r' }, '{"op":"rotated","keys":["A","B"],"rotation_id":"r"}'],
    [{ op: 'shutdown' }, '{"op":"shutdown"}'],
    [{ op: 'heartbeat' }, '{"op":"heartbeat"}'],
    [{ op: 'register_service_provider_response', success: true }, '{"op":"register_service_provider_response","success":true,"provider_id":null,"error":null}'],
    [{ op: 'discover_service_providers_response', success: true, providers: [{ provider_id: 'p', module_id: 'm', service_type: 'Cache', name: 'n', address: 'a', metadata: {}, is_healthy: true }] },
      '{"op":"discover_service_providers_response","success":true,"providers":[{"provider_id":"p","module_id":"m","service_type":"Cache","name":"n","version":null,"address":"a","metadata":{},"is_healthy":true}],"error":null}'],
    [{ op: 'service_response', id: 'i', service_type: 'Database', success: true, connection_id: 'c' }, '{"op":"service_response","id":"i","service_type":"Database","success":true,"error":null,"connection_id":"c"}'],
    [{ op: 'service_operation_result', success: true }, '{"op":"service_operation_result","success":true,"result":null,"error":null}'],
    [{ op: 'service_operation_result', success: true, result: { x: 1.5 }, params: { connection_id: 'c' } }, '{"op":"service_operation_result","success":true,"result":{"x":1.5},"error":null,"params":{"connection_id":"c"}}'],
    [{ op: 'http_request', request_id: 'r', method: 'GET', uri: '/', headers: {} }, '{"op":"http_request","request_id":"r","method":"GET","uri":"/","headers":{},"body":null}'],
    [{ op: 'port_response', request_id: 'r', success: false, port: 0 }, '{"op":"port_response","request_id":"r","success":false,"port":0,"error_message":null}'],
    [{ op: 'routed_module_message', source_module_id: 's', original_request_id: ID.replace(/-/g, ''), payload: { data: [], format: 'Auto' } },
      `{"op":"routed_module_message","source_module_id":"s","original_request_id":"${ID}","payload":{"data":[],"format":"Auto"}}`],
    [{ op: 'routed_module_response', source_module_id: 's', request_id: ID, payload: { data: [1], format: 'Binary' } },
      `{"op":"routed_module_response","source_module_id":"s","request_id":"${ID}","payload":{"data":[1],"format":"Binary"}}`]
  ]
  for (const [message, wire] of cases) {
    const out = encodeOrchestratorMessage(message as any)
    t.equal(out, wire, wire)
    decodeOrchestratorMessage(out)
  }
  t.throws(() => encodeOrchestratorMessage({ op: 'announce' } as any), { code: ENCODE_ERROR, message: /unknown op `announce`/ })
  t.throws(() => encodeOrchestratorMessage({ op: 'init', orchestrator_api: 'o', module_id: 'm', env: {}, listen: 'l', tcp_channel: { address: 'localhost:1', tls_enabled: false, required: false } } as any),
    { code: ENCODE_ERROR, message: /field `tcp_channel\.address`: expected a socket address/ })
  t.throws(() => encodeOrchestratorMessage({ op: 'init', orchestrator_api: 'o', module_id: 'm', env: {}, listen: 'l', security_level: 'token' } as any),
    { code: ENCODE_ERROR, message: /field `security_level`: expected one of None, Token, Mtls/ })
  t.throws(() => encodeOrchestratorMessage({ op: 'init', orchestrator_api: 'o', module_id: 'm', env: {}, listen: 'l', ipc_channel: 'x' } as any),
    { code: ENCODE_ERROR, message: /field `ipc_channel`: expected an object, got a string/ })
})

t.test('bare Init blob', async (t) => {
  const blob = { orchestrator_api: 'http://127.0.0.1:9900', module_id: 'm', env: {}, listen: '127.0.0.1:4102', security_level: 'None' as const }
  const line = encodeInitBlob(blob)
  t.equal(line, '{"orchestrator_api":"http://127.0.0.1:9900","module_id":"m","env":{},"listen":"127.0.0.1:4102","security_level":"None"}')
  t.same(decodeInit(line), blob)
})

t.test('stdio HTTP reply wrapper', async (t) => {
  const out = encodeHttpReply({ request_id: 'req-1', status_code: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from('{"ok":true}') }, 'my-module')
  const parsed = JSON.parse(out)
  t.match(parsed.metadata.id, UUID_V4)
  t.equal(out, `{"content":{"body":[123,34,111,107,34,58,116,114,117,101,125],"headers":{"content-type":"application/json"},"request_id":"req-1","status_code":200},"metadata":{"id":"${parsed.metadata.id as string}","properties":{"correlation_id":"req-1"},"source":"my-module"}}`, 'sorted keys, as json! writes them')
  for (const body of [undefined, null, Buffer.alloc(0), []]) {
    t.same(JSON.parse(encodeHttpReply({ request_id: 'r', status_code: 404, headers: {}, body }, 's')).content.body, [], 'empty body is []')
  }
  t.not(JSON.parse(encodeHttpReply({ request_id: 'r', status_code: 200, headers: {} }, 's')).metadata.id, parsed.metadata.id, 'a fresh id per reply')
  t.throws(() => encodeHttpReply({ request_id: 'r', status_code: 1e6, headers: {} }, 's'), { code: ENCODE_ERROR, message: /status_code/ })
  t.throws(() => encodeHttpReply({ request_id: 'r', status_code: 200, headers: {} }, undefined as unknown as string), { code: ENCODE_ERROR, message: /field `source`/ })
})

t.test('envelopes', async (t) => {
  const plain = JSON.parse(encodeEnvelope({ a: 1 }))
  t.match(plain.id, UUID_V4)
  t.same(plain, { id: plain.id, content: { a: 1 }, metadata: {} })
  const full = encodeEnvelope('hello', { properties: { k: [1] }, destination: 'b', source: 'a', timestamp: 1718000000, id: 'm-1' }, ID)
  t.equal(full, `{"id":"${ID}","content":"hello","metadata":{"id":"m-1","timestamp":1718000000,"source":"a","destination":"b","properties":{"k":[1]}}}`, 'Rust metadata order')
  t.same(decodeEnvelope(full).metadata, { id: 'm-1', timestamp: 1718000000, source: 'a', destination: 'b', properties: { k: [1] } })
  t.equal(encodeEnvelope(null, { id: null, source: undefined } as any, ID), `{"id":"${ID}","content":null,"metadata":{}}`, 'absent metadata fields omitted')
  t.throws(() => encodeEnvelope(undefined), { code: ENCODE_ERROR, message: /field `content`: expected a JSON value, got nothing/ })
  t.throws(() => encodeEnvelope(1, undefined, 'not-a-uuid'), { code: ENCODE_ERROR, message: /field `id`: expected a UUID/ })
  t.throws(() => encodeEnvelope(1, { timestamp: 1.5 }), { code: ENCODE_ERROR, message: /field `metadata\.timestamp`/ })
  t.throws(() => encodeEnvelope(1, { properties: [] as any }), { code: ENCODE_ERROR, message: /field `metadata\.properties`: expected an object/ })
  t.throws(() => encodeEnvelope(1, 'x' as any), { code: ENCODE_ERROR, message: /field `metadata`: expected an object/ })
  t.throws(() => encodeModuleEnvelope({ op: 'identify' }), { code: ENCODE_ERROR, message: /identify/ })
})

t.test('registration requests', async (t) => {
  const heartbeat = JSON.parse(encodeRegistrationRequest({ request_type: 'heartbeat', module_id: ID, token: 't', status: 'Degraded', details: { cpu: '0.5' } }))
  t.match(heartbeat.metadata.id, UUID_V4, 'metadata.id is a fresh UUID, as Rust sets it')
  t.same(heartbeat.content, { request_type: 'heartbeat', module_id: ID, token: 't', status: 'Degraded', details: { cpu: '0.5' } })
  const caps = encodeRegistrationRequest({
    request_type: 'capabilities',
    module_id: ID,
    token: 't',
    capabilities: { endpoints: [{ path: '/p', methods: ['GET'], auth: 'jwt', metadata: { a: 'b' } }], additional_capabilities: { gpu: true } }
  }, {}, ID)
  t.equal(caps, `{"id":"${ID}","content":{"request_type":"capabilities","module_id":"${ID}","token":"t","capabilities":{"endpoints":[{"path":"/p","methods":["GET"],"auth":"jwt","metadata":{"a":"b"}}],"additional_capabilities":{"gpu":true}}},"metadata":{}}`)
  const register = JSON.parse(encodeRegistrationRequest({ request_type: 'register', module_info: { name: 'n', version: '1', description: 'd', id: ID, metadata: { k: 'v' } } }))
  t.same(register.content.module_info, { name: 'n', version: '1', description: 'd', id: ID, metadata: { k: 'v' } })
  t.throws(() => encodeRegistrationRequest({ request_type: 'registration' } as any), { code: ENCODE_ERROR, message: /unknown registration request_type a string/ })
  t.throws(() => encodeRegistrationRequest({ request_type: 'heartbeat', module_id: ID, token: 't', status: 'healthy' } as any), { code: ENCODE_ERROR, message: /field `status`: expected one of Healthy, Degraded, Unhealthy/ })
})

t.test('HTTP over TCP', async (t) => {
  t.equal(encodeHttpTcpRequest({ request_id: 'r', method: 'GET', uri: '/', headers: {} }, undefined, ID), `{"id":"${ID}","content":{"request_id":"r","method":"GET","uri":"/","headers":{}},"metadata":{}}`, 'body omitted when absent')
  t.equal(encodeHttpTcpResponse({ request_id: 'r', status_code: 200, headers: {}, body: Buffer.from([1]) }, undefined, ID), `{"id":"${ID}","content":{"request_id":"r","status_code":200,"headers":{},"body":[1]},"metadata":{}}`)
})

t.test('EncodedMessage helpers', async (t) => {
  const json = encodedMessageFromValue({ a: 1 })
  t.equal(encodeEncodedMessage(json), '{"data":[123,34,97,34,58,49,125],"format":"Json"}')
  const b64 = encodedMessageFromValue({ a: 1 }, 'Base64')
  t.equal(encodeEncodedMessage(b64), '{"data":[101,121,74,104,73,106,111,120,102,81,61,61],"format":"Base64"}', 'ASCII of "eyJhIjoxfQ=="')
  t.same(encodedMessageValue({ data: [...b64.data], format: 'Base64' }), { a: 1 })
  t.same(encodedMessageValue({ data: [...json.data], format: 'Binary' }), { a: 1 }, 'Binary holding JSON')
  t.throws(() => encodedMessageValue({ data: [], format: 'Auto' }), { code: 'FST_PYWATT_PROTOCOL', message: /format `Auto` cannot be decoded/ })
  t.throws(() => encodedMessageValue({ data: [0xff], format: 'Json' }), { message: /EncodedMessage data is not valid UTF-8/ })
  t.throws(() => encodedMessageValue({ data: [0x21], format: 'Base64' }), { message: /not valid padded base64/ })
})

t.test('StreamChunk', async (t) => {
  const chunk = { stream_id: ID, sequence: 1, total_chunks: 2, data: Buffer.from('hi'), compressed: false, checksum: 209, is_final: true }
  t.equal(encodeStreamChunk(chunk), `{"stream_id":"${ID}","sequence":1,"total_chunks":2,"data":[104,105],"compressed":false,"checksum":209,"is_final":true,"stream_metadata":null}`)
  t.same(JSON.parse(encodeStreamChunk({ ...chunk, stream_metadata: { total_size: 2, priority: 'High', properties: {} } })).stream_metadata, { total_size: 2, content_type: null, priority: 'High', properties: {} })
  t.same(JSON.parse(encodeStreamChunk({ ...chunk, stream_metadata: { total_size: 2, content_type: 'text/plain', priority: 'Low' } as any })).stream_metadata.properties, {}, 'properties default to {}')
  t.throws(() => encodeStreamChunk({ ...chunk, checksum: -1 }), { code: ENCODE_ERROR, message: /field `checksum`/ })
})

t.test('bytesToJsonArray', async (t) => {
  t.equal(bytesToJsonArray([]), '[]')
  t.equal(bytesToJsonArray([0, 9, 10, 99, 100, 255]), '[0,9,10,99,100,255]')
  t.equal(bytesToJsonArray(new Uint8Array([255, 0])), '[255,0]')
  const all = Uint8Array.from({ length: 256 }, (_, i) => i)
  t.same(JSON.parse(bytesToJsonArray(all)), [...all])
  t.throws(() => bytesToJsonArray([-1], 'data'), { code: ENCODE_ERROR, message: /field `data\[0\]`/ })
})

t.test('a reply in parts is the same line, its body array as bytes, whatever the body size', async (t) => {
  const sameButId = (a: string, b: string): void => {
    const [x, y] = [JSON.parse(a), JSON.parse(b)]
    t.match(x.metadata.id, UUID_V4)
    x.metadata.id = y.metadata.id
    t.same(x, y)
  }
  for (const size of [0, 1, 70, 4096, 4097, 20_000]) {
    const body = Buffer.from(Array.from({ length: size }, (_, i) => (i * 31) & 0xff))
    const reply = { request_id: `r-${size}`, status_code: 200, headers: { 'content-type': 'application/octet-stream' }, body }
    const [head, array, tail] = encodeHttpReplyParts(reply, 'm')
    t.ok(Buffer.isBuffer(array))
    const whole = head + array.toString('latin1') + tail
    sameButId(whole, encodeHttpReply(reply, 'm'))
    t.same([...JSON.parse(whole).content.body], [...body], `${size} bytes round-trip`)
    // A number array takes the same path and checks its elements.
    sameButId(encodeHttpReply({ ...reply, body: [...body] }, 'm'), whole)
  }
  t.throws(() => encodeHttpReplyParts({ request_id: 'r', status_code: 200, headers: {}, body: 'x' as unknown as Uint8Array }, 'm'), { code: ENCODE_ERROR, message: /body/ })
  t.throws(() => encodeHttpReply({ request_id: 'r', status_code: 200, headers: {}, body: [...Array(5000).fill(1), 300] }, 'm'), { code: ENCODE_ERROR, message: /body\[5000\]/ })
  t.throws(() => encodeHttpReply({ request_id: 'r', status_code: 200, headers: { a: 1 as unknown as string }, body: [] }, 'm'), { code: ENCODE_ERROR, message: /headers\.a/ })
})
