import t, { type Test } from 'tap'
import {
  BuildInfoSchema, MAX_INIT_LINE_BYTES, RegistrationProtocolRequestSchema, RegistrationRequestSchema, StreamChunkSchema, checker, decodeEnvelope,
  decodeEnvelopeOf, decodeHttpTcpRequest, decodeInit, decodeModuleEnvelope, decodeModuleMessage,
  decodeOrchestratorMessage, decodeRegistrationResponse, decodeWithSchema, normaliseUuid,
  type HttpRequestMessage
} from '../../lib/protocol/index.js'

const PROTOCOL_ERROR = 'FST_PYWATT_PROTOCOL'
const ID = '0b9f4c2e-1a3d-4e5f-8a7b-6c5d4e3f2a10'
const INIT = '"orchestrator_api":"http://127.0.0.1:9900","module_id":"m","env":{},"listen":"127.0.0.1:4102"'

function rejects (t: Test, fn: () => unknown, message: RegExp, name?: string): void {
  t.throws(fn, { code: PROTOCOL_ERROR, message }, name ?? String(message))
}

t.test('floats: rejected in integer fields, accepted in free-form JSON', async (t) => {
  rejects(t, () => decodeOrchestratorMessage('{"op":"port_response","request_id":"x","success":true,"port":1e3}'), /field `port`: expected an integer, got a float literal/)
  rejects(t, () => decodeOrchestratorMessage('{"op":"port_response","request_id":"x","success":true,"port":-0}'), /field `port`: expected an integer, got a float literal/, '-0 is a float to serde')
  rejects(t, () => decodeOrchestratorMessage('{"op":"http_request","request_id":"r","method":"GET","uri":"/","headers":{},"body":[1,2.0,3]}'), /field `body\[1\]`: expected an integer, got a float literal/)
  rejects(t, () => decodeOrchestratorMessage('{"op":"discover_service_providers_response","success":true,"providers":[],"error":null,"x":[{"a":[1.5]}],"providers2":1}'.replace('"providers":[]', '"providers":[1.0]')), /field `providers\[0\]`: expected an object/)
  rejects(t, () => decodeEnvelope(`{"id":"${ID}","content":{},"metadata":{"timestamp":1718000000.0}}`), /field `metadata\.timestamp`: expected an integer, got a float literal/)
  rejects(t, () => decodeModuleEnvelope(`{"id":"${ID}","content":{"op":"port_request","request_id":"r","specific_port":80E0}}`), /field `content\.specific_port`: expected an integer, got a float literal/)
  rejects(t, () => decodeWithSchema(StreamChunkSchema, `{"stream_id":"${ID}","sequence":0.0,"total_chunks":1,"data":[],"compressed":false,"checksum":0,"is_final":true}`), /field `sequence`/)

  const chunk = (a: string, b: string): string => `{"stream_id":"${ID}",${a},${b},"data":[],"compressed":false,"checksum":0,"is_final":true}`
  rejects(t, () => decodeWithSchema(StreamChunkSchema, chunk('"total_chunks":1.0', '"sequence":2.0')), /field `total_chunks`/, 'the first misplaced float in the text is named')
  rejects(t, () => decodeWithSchema(StreamChunkSchema, chunk('"sequence":2.0', '"total_chunks":1.0')), /field `sequence`/, 'the first misplaced float in the text is named (reversed)')

  const result = decodeOrchestratorMessage('{"op":"service_operation_result","success":true,"result":{"x":1.5,"y":[2.0,1e3,-0]},"error":null,"params":{"v":0.5}}')
  t.same(result, { op: 'service_operation_result', success: true, result: { x: 1.5, y: [2, 1000, -0] }, params: { v: 0.5 } }, 'result and the params echo are free-form')
  t.same(decodeOrchestratorMessage('{"op":"heartbeat","ts":1718000000.5}'), { op: 'heartbeat', ts: 1718000000.5 }, 'unknown keys may hold anything')
  t.same(decodeEnvelope(`{"id":"${ID}","content":[1.5],"metadata":{"properties":{"load":0.75}}}`).metadata, { properties: { load: 0.75 } }, 'metadata.properties is a free-form map')
  t.same(decodeModuleMessage('{"op":"service_request","id":"i","service_type":"Jwt","config":{"ttl":1.5}}'), { op: 'service_request', id: 'i', service_type: 'Jwt', config: { ttl: 1.5 } })
})

t.test('byte arrays: integers 0..255 only', async (t) => {
  const request = (body: string): string => `{"op":"http_request","request_id":"r","method":"POST","uri":"/","headers":{},"body":${body}}`
  const body = (line: string): number[] => [...(decodeOrchestratorMessage(line) as HttpRequestMessage).body ?? []]
  t.same(body(request('[0,255]')), [0, 255], 'boundaries')
  t.same(body(request('[]')), [])
  rejects(t, () => decodeOrchestratorMessage(request('[-1]')), /field `body\[0\]`: expected an integer 0\.\.255, got an integer out of range/)
  rejects(t, () => decodeOrchestratorMessage(request('[0,256]')), /field `body\[1\]`: expected an integer 0\.\.255/)
  rejects(t, () => decodeOrchestratorMessage(request('[1.5]')), /field `body\[0\]`: expected an integer 0\.\.255, got a non-integer number/)
  rejects(t, () => decodeOrchestratorMessage(request('["1"]')), /field `body\[0\]`: expected an integer 0\.\.255, got a string/)
  rejects(t, () => decodeOrchestratorMessage(request('{"0":1}')), /field `body`: expected an array of integers 0\.\.255, got an object/)
  const absent = decodeOrchestratorMessage(request('null'))
  t.notOk('body' in absent, 'a null Option is dropped: absent and null are the same to serde')
})

t.test('u16 boundaries', async (t) => {
  const response = (port: string): string => `{"op":"port_response","request_id":"x","success":true,"port":${port}}`
  t.equal((decodeOrchestratorMessage(response('0')) as { port: number }).port, 0)
  t.equal((decodeOrchestratorMessage(response('65535')) as { port: number }).port, 65535)
  rejects(t, () => decodeOrchestratorMessage(response('65536')), /field `port`: expected an integer 0\.\.65535, got an integer out of range/)
  rejects(t, () => decodeOrchestratorMessage(response('-1')), /field `port`: .*out of range/)
  rejects(t, () => decodeOrchestratorMessage(response('"4102"')), /field `port`: expected an integer 0\.\.65535, got a string/)
  rejects(t, () => decodeOrchestratorMessage(response('null')), /field `port`: .*got null/, 'required even on failure')
  t.same(decodeModuleMessage('{"op":"port_request","request_id":"r","specific_port":null}'), { op: 'port_request', request_id: 'r' })
  rejects(t, () => decodeModuleMessage('{"op":"port_request","request_id":"r","specific_port":70000}'), /field `specific_port`: expected an integer 0\.\.65535/)
})

t.test('UUIDs: every serde input form, normalised', async (t) => {
  const forms = [ID, ID.toUpperCase(), ID.replace(/-/g, ''), `{${ID}}`, `urn:uuid:${ID}`, `{${ID.toUpperCase()}}`]
  for (const form of forms) {
    const m = decodeOrchestratorMessage(`{"op":"routed_module_response","source_module_id":"s","request_id":"${form}","payload":{"data":[],"format":"Json"}}`)
    t.equal((m as { request_id: string }).request_id, ID, form)
  }
  for (const bad of [`${ID}0`, ID.slice(1), `urn:uuid:${ID.replace(/-/g, '')}`, `URN:UUID:${ID}`, `{${ID}`, ID.replace('-', ''), 'g'.repeat(32)]) {
    rejects(t, () => decodeEnvelope(`{"id":"${bad}","content":null}`), /field `id`: expected a UUID/, bad)
  }
  t.equal(normaliseUuid(`urn:uuid:${ID.toUpperCase()}`), ID)
  const routed = decodeModuleMessage(`{"op":"route_to_module","target_module_id":"t","target_endpoint":"e","request_id":"${ID.toUpperCase()}","payload":{"data":[],"format":"Json"}}`)
  t.equal((routed as { request_id: string }).request_id, ID)
})

t.test('Init: Rust rules plus the deliberate extensions', async (t) => {
  const bare = decodeInit(`{${INIT}}\r`)
  t.same(bare, { orchestrator_api: 'http://127.0.0.1:9900', module_id: 'm', env: {}, listen: '127.0.0.1:4102', security_level: 'None' }, 'trailing \\r is whitespace')
  t.same(decodeInit(`{"op":"init",${INIT}}\n`), bare, 'tagged form and a trailing newline')
  t.same(decodeInit(`{"op":"whatever",${INIT}}`), bare, 'as in Rust, op is an ignored key on the first line')
  const py = (tc: string): string => `{${INIT},"tcp_channel":${tc}}`
  t.same(decodeInit(py('{"host":"::1","port":9901}')).tcp_channel, { address: '[::1]:9901', tls_enabled: false, required: false }, 'Python IPv6 host bracketed')
  t.same(decodeInit(py('{"host":"[::1]","port":9901,"tls_enabled":true,"required":true}')).tcp_channel, { address: '[::1]:9901', tls_enabled: true, required: true }, 'already bracketed; flags kept')
  t.same(decodeInit(py('{"address":"127.0.0.1:1","tls_enabled":false,"required":true,"host":"ignored"}')).tcp_channel, { address: '127.0.0.1:1', tls_enabled: false, required: true }, 'Rust form wins when address is present')
  rejects(t, () => decodeInit(py('{"host":"localhost","port":9901}')), /field `tcp_channel\.host`: expected a numeric IP address/)
  rejects(t, () => decodeInit(py('{"host":"127.0.0.1","port":70000}')), /field `tcp_channel\.port`: expected an integer 0\.\.65535/)
  rejects(t, () => decodeInit(py('{"host":"127.0.0.1","port":9901.0}')), /field `tcp_channel\.port`: expected an integer, got a float literal/)
  rejects(t, () => decodeInit(py('{"port":9901}')), /missing field `tcp_channel\.host`/)
  rejects(t, () => decodeInit(py('{"host":"127.0.0.1","port":1,"tls_enabled":null}')), /field `tcp_channel\.tls_enabled`: expected a boolean, got null/, 'Python flags: missing is false, null is refused')
  rejects(t, () => decodeInit(py('{}')), /missing field `tcp_channel\.address`/)
  rejects(t, () => decodeInit(py('"127.0.0.1:1"')), /field `tcp_channel`: expected an object, got a string/)
  rejects(t, () => decodeInit(`{${INIT.replace('"listen":"127.0.0.1:4102"', '"listen":{"Unix":5}')}}`), /field `listen\.Unix`: expected a string/)
  rejects(t, () => decodeInit(`{${INIT.replace('"listen":"127.0.0.1:4102"', '"listen":{"Tcp":"127.0.0.1:1"}')}}`), /missing field `listen\.Unix`/)
  const full = decodeInit(`{${INIT},"ipc_channel":{"socket_path":"/s","required":true},"auth_token":"tok","security_level":"Mtls","tcp_channel":null}`)
  t.same(full, { orchestrator_api: 'http://127.0.0.1:9900', module_id: 'm', env: {}, listen: '127.0.0.1:4102', ipc_channel: { socket_path: '/s', required: true }, auth_token: 'tok', security_level: 'Mtls' })
  t.same(Object.keys(full), ['orchestrator_api', 'module_id', 'env', 'listen', 'ipc_channel', 'auth_token', 'security_level'], 'Rust field order')
  rejects(t, () => decodeInit(`{${INIT},"ipc_channel":{"socket_path":"/s"}}`), /missing field `ipc_channel\.required`/)
  rejects(t, () => decodeInit('[]'), /expected a JSON object, got an array/)
  rejects(t, () => decodeInit('"init"'), /expected a JSON object, got a string/)
  const padding = 'x'.repeat(MAX_INIT_LINE_BYTES)
  rejects(t, () => decodeInit(`{${INIT},"pad":"${padding}"}`), /the Init line exceeds 1048576 bytes/)
  const multibyte = 'é'.repeat(400_000) // 800 000 bytes: under the cap although over a third of it in length
  t.equal(decodeInit(`{${INIT},"pad":"${multibyte}"}`).module_id, 'm')
  const tagged = decodeOrchestratorMessage(`{"op":"init",${INIT},"listen":{"Unix":"/m.sock"}}`.replace(',"listen":"127.0.0.1:4102"', ''))
  t.same(tagged, { op: 'init', orchestrator_api: 'http://127.0.0.1:9900', module_id: 'm', env: {}, listen: '/m.sock', security_level: 'None' }, 'a later init gets the same liberal rules')
})

t.test('ops', async (t) => {
  rejects(t, () => decodeOrchestratorMessage('{"op":"Init"}'), /unknown op `Init` \(ops are case-sensitive: did you mean `init`\?\)/)
  rejects(t, () => decodeOrchestratorMessage('{"op":"get_secret","name":"K"}'), /unknown op `get_secret` \(`get_secret` is not sent to modules\)/)
  rejects(t, () => decodeModuleMessage('{"op":"secret","name":"K","value":"v"}'), /unknown op `secret` \(`secret` is not sent by modules\)/)
  rejects(t, () => decodeModuleMessage('{"op":"init"}'), /unknown op `init` \(`init` is not sent by modules\)/)
  rejects(t, () => decodeModuleMessage('{"op":"Announce"}'), /did you mean `announce`/)
  rejects(t, () => decodeModuleMessage('{"op":null}'), /field `op`: expected a string, got null/)
  rejects(t, () => decodeOrchestratorMessage(`{"op":"${'x'.repeat(200)}\\n"}`), /unknown op `x{64}…`$/, 'long ops are shortened')
  rejects(t, () => decodeOrchestratorMessage('{"op":"a\\u0007b"}'), /unknown op `a\\u0007b`/, 'control characters are escaped')
  t.same(decodeOrchestratorMessage('{"name":"K","value":"v","op":"secret"}'), { name: 'K', value: 'v', op: 'secret' }, 'op anywhere in the object')
})

t.test('secret values never appear in errors', async (t) => {
  const secret = 'hunter2-s3cr3t'
  const lines = [
    `{"op":"secret","name":"K","value":{"v":"${secret}"}}`,
    `{"op":"secret","name":"K","value":"${secret}","value":"${secret}"}`,
    `{"op":"secret","name":"K","value":"${secret}"`,
    `{"op":"secret","name":"K","value":"${secret}","rotation_id":5}`,
    `{"op":"secret","name":"K","value":"${secret}\\udead"}`,
    '{"op":"secret","name":"K","value":123456789}'
  ]
  for (const line of lines) {
    const err = t.throws(() => decodeOrchestratorMessage(line), { code: PROTOCOL_ERROR }) as Error
    t.notMatch(err.message, /hunter2|s3cr3t|123456789/, err.message)
  }
})

t.test('module lines: the stdio reply wrapper', async (t) => {
  const wrapper = (metadata: string): string => `{"content":{"body":[],"headers":{},"request_id":"r","status_code":200},"metadata":${metadata}}`
  const line = decodeModuleMessage(wrapper(`{"id":"${ID.replace(/-/g, '').toUpperCase()}","properties":{"correlation_id":"r"},"source":"m"}`))
  t.same(line, { op: 'http_reply', content: { body: [], headers: {}, request_id: 'r', status_code: 200 }, metadata: { id: ID, properties: { correlation_id: 'r' }, source: 'm' } })
  rejects(t, () => decodeModuleMessage(wrapper('{}')), /missing field `metadata\.id`/)
  rejects(t, () => decodeModuleMessage(wrapper(`{"id":"${ID}","source":"m","properties":{}}`)), /missing field `metadata\.properties\.correlation_id`/)
  rejects(t, () => decodeModuleMessage('{"content":{"body":"x","headers":{},"request_id":"r","status_code":200},"metadata":{}}'), /field `content\.body`/)
  rejects(t, () => decodeModuleEnvelope(`{"id":"${ID}","content":"x"}`), /field `content`: expected a JSON object, got a string/)
})

t.test('envelopes of other contents', async (t) => {
  const request = decodeHttpTcpRequest(`{"id":"${ID}","content":{"request_id":"r","method":"GET","uri":"/","headers":{},"body":null}}`)
  t.same(request, { id: ID, content: { request_id: 'r', method: 'GET', uri: '/', headers: {} }, metadata: {} })
  rejects(t, () => decodeHttpTcpRequest(`{"id":"${ID}","content":{"request_id":"r","method":"GET","uri":"/"}}`), /missing field `content\.headers`/)
  const reg = decodeEnvelopeOf(RegistrationProtocolRequestSchema, `{"id":"${ID}","content":{"request_type":"heartbeat","module_id":"${ID}","token":"t","status":"Healthy","details":null}}`)
  t.same(reg.content, { request_type: 'heartbeat', module_id: ID, token: 't', status: 'Healthy' }, 'null Option dropped inside a union member')
  rejects(t, () => decodeEnvelopeOf(RegistrationProtocolRequestSchema, `{"id":"${ID}","content":{"request_type":"registration"}}`), /field `content\.request_type`: unknown variant `registration`, expected one of `register`, `heartbeat`, `capabilities`, `unregister`/, 'Python\'s request type')
  rejects(t, () => decodeEnvelopeOf(RegistrationProtocolRequestSchema, `{"id":"${ID}","content":{"request_type":1}}`), /field `content\.request_type`: got an integer, expected one of/)
  rejects(t, () => decodeEnvelopeOf(RegistrationProtocolRequestSchema, `{"id":"${ID}","content":{}}`), /missing field `content\.request_type`/)
  rejects(t, () => decodeEnvelopeOf(RegistrationProtocolRequestSchema, `{"id":"${ID}","content":{"request_type":"unregister","module_id":"${ID}"}}`), /missing field `content\.token`/, 'the tag picks the member to report on')
  rejects(t, () => decodeEnvelopeOf(RegistrationRequestSchema, `{"id":"${ID}","content":{"request_type":"x","module_info":{"name":"n","version":"v","description":"d"}}}`), /field `content\.request_type`: unknown variant `x`, expected `register`/)
  t.same(decodeWithSchema(BuildInfoSchema, '{"git_hash":"h","build_time_utc":"t","rustc_version":"v","extra":1}'), { git_hash: 'h', build_time_utc: 't', rustc_version: 'v', extra: 1 })
})

t.test('registration responses', async (t) => {
  const ok = decodeRegistrationResponse(`{"response_type":"register","success":true,"error":null,"module":{"info":{"name":"n","version":"1","description":"d","id":"{${ID.toUpperCase()}}"},"id":"${ID.replace(/-/g, '')}","token":"t","orchestrator_host":"127.0.0.1","orchestrator_port":9902,"env":null}}`, 'register')
  t.same(ok, { response_type: 'register', success: true, module: { info: { name: 'n', version: '1', description: 'd', id: ID }, id: ID, token: 't', orchestrator_host: '127.0.0.1', orchestrator_port: 9902 } })
  t.same(decodeRegistrationResponse('{"response_type":"register","success":false,"module":null}', 'register'), { response_type: 'register', success: false })
  t.same(decodeRegistrationResponse('{"response_type":"heartbeat","success":false,"status":"Unhealthy","context":{"why":1.5}}', 'heartbeat'), { response_type: 'heartbeat', success: false, status: 'Unhealthy', context: { why: 1.5 } })
  rejects(t, () => decodeRegistrationResponse('{"response_type":"heartbeat","success":false}', 'heartbeat'), /missing field `status`/)
  t.same(decodeRegistrationResponse('{"response_type":"unregister","success":true}', 'unregister'), { response_type: 'unregister', success: true })
  t.same(decodeRegistrationResponse('{"response_type":"capabilities","success":false,"error":"no"}', 'capabilities'), { response_type: 'capabilities', success: false, error: 'no' })
  rejects(t, () => decodeRegistrationResponse(`{"response_type":"register","success":true,"module":{"info":{},"id":"${ID}","token":"t","orchestrator_host":"h","orchestrator_port":1}}`, 'register'), /missing field `module\.info\.name`/)
})

t.test('type names in messages', async (t) => {
  rejects(t, () => decodeOrchestratorMessage('{"op":"secret","name":true,"value":"v"}'), /field `name`: expected a string, got a boolean/)
  rejects(t, () => decodeOrchestratorMessage('{"op":"rotated","keys":"A","rotation_id":"r"}'), /field `keys`: expected an array, got a string/)
  rejects(t, () => decodeOrchestratorMessage('{"op":"rotated","keys":[1],"rotation_id":"r"}'), /field `keys\[0\]`: expected a string, got an integer/)
  rejects(t, () => decodeOrchestratorMessage('{"op":"service_response","id":"x","service_type":"Jwt","success":"yes"}'), /field `success`: expected a boolean, got a string/)
})

t.test('maps: every value is checked, whatever the key', async (t) => {
  rejects(t, () => decodeInit(`{${INIT.replace('"env":{}', '"env":{"A\\nB":5}')}}`), /field `env\["A\\nB"\]`: expected a string, got an integer/)
  rejects(t, () => decodeOrchestratorMessage('{"op":"http_request","request_id":"r","method":"GET","uri":"/","headers":{"":null}}'), /field `headers\[""\]`: expected a string, got null/)
  t.same(decodeInit(`{${INIT.replace('"env":{}', '"env":{"A\\nB":"v","":"w"}')}}`).env, { 'A\nB': 'v', '': 'w' })
})

t.test('ServiceType custom form is exact', async (t) => {
  const response = (type: string): string => `{"op":"service_response","id":"x","service_type":${type},"success":true}`
  t.same((decodeOrchestratorMessage(response('{"Custom":"geo"}')) as { service_type: unknown }).service_type, { Custom: 'geo' })
  rejects(t, () => decodeOrchestratorMessage(response('{"Custom":"geo","x":1}')), /field `service_type\.x`: unexpected key/)
  rejects(t, () => decodeOrchestratorMessage(response('{"Custom":1}')), /field `service_type\.Custom`: expected a string/)
  rejects(t, () => decodeOrchestratorMessage(response('{}')), /missing field `service_type\.Custom`/)
  rejects(t, () => decodeOrchestratorMessage(response('["Database"]')), /field `service_type`: expected "Database", "Cache", "Jwt" or \{"Custom": name\}, got an array/)
})

t.test('compiled checkers are cached', async (t) => {
  t.equal(checker(BuildInfoSchema), checker(BuildInfoSchema))
  t.ok(checker(BuildInfoSchema).Check({ git_hash: '', build_time_utc: '', rustc_version: '' }))
})
