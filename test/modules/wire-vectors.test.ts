import t from 'tap'
import { readFileSync } from 'node:fs'
import {
  decodeModuleFrame, decodeOrchestratorFrame, encodeFrame, encodeModuleEnvelope, encodeOrchestratorMessage,
  readFrame, type ModuleMessage, type OrchestratorMessage
} from '../../lib/protocol/index.js'
import { decodeAnswer, decodeRequest, encodeAnswer, encodeRequest, routedAnswer, routedRequest } from '../../lib/modules/wire.js'

/*
 * The module-to-module wire format (lib/modules/wire.ts, docs/protocol.md §12)
 * against the frames recorded from the Rust SDK (test/fixtures/vectors).
 */

interface Vector { name: string, json: any, wire_text: string, frame_hex?: string }
const load = (file: string): Vector[] => JSON.parse(readFileSync(new URL(`../fixtures/vectors/${file}.json`, import.meta.url), 'utf8')) as Vector[]
const vector = (file: string, name: string): Vector => {
  const found = load(file).find((v) => v.name === name)
  if (found === undefined) throw new Error(`no vector ${name} in ${file}.json`)
  return found
}

type RouteToModule = Extract<ModuleMessage, { op: 'route_to_module' }>
type RoutedMessage = Extract<OrchestratorMessage, { op: 'routed_module_message' }>
type RoutedResponse = Extract<OrchestratorMessage, { op: 'routed_module_response' }>

const ENVELOPE_ID = '6f1c1b8e-9d2a-4c1e-8f3b-2a5d7c9e0b11'
const REQUEST_ID = '0b9f4c2e-1a3d-4e5f-8a7b-6c5d4e3f2a10'

/** The single frame of a vector's `frame_hex`. */
function frameOf (v: Vector): { format: number, payload: Buffer } {
  const frame = readFrame(Buffer.from(v.frame_hex as string, 'hex'))
  if (frame === undefined) throw new Error(`${v.name}: incomplete frame`)
  return frame
}

/** What the orchestrator reads from a Rust sender's route_to_module frame. */
function rustRequest (): RouteToModule {
  const envelope = decodeModuleFrame(1, frameOf(vector('route_to_module', 'route_to_module_enveloped_frame')).payload)
  if (envelope.content.op !== 'route_to_module') throw new Error('not a route_to_module')
  return envelope.content
}

t.test('a Rust sender\'s route_to_module frame, routed by pywatt-dev, is byte for byte the routed_module_message vector', async (t) => {
  const request = rustRequest()
  t.match(request, { target_module_id: 'user-service', target_endpoint: 'get_user', request_id: REQUEST_ID, payload: { format: 'Json' } })
  const routed = routedRequest('billing', request)
  t.equal(encodeOrchestratorMessage(routed), vector('routed_module_message', 'routed_module_message_frame').wire_text)
  t.equal(encodeFrame(encodeOrchestratorMessage(routed)).toString('hex'), vector('routed_module_message', 'routed_module_message_frame').frame_hex)
})

t.test('a Rust request names no endpoint: decodeRequest refuses it with FST_PYWATT_MODULE_PAYLOAD, decodeAnswer does not take it', async (t) => {
  // Rust's inner envelope is {id, content, metadata: {}}, and routed_module_message
  // carries no endpoint of its own (target_endpoint stays with the orchestrator).
  for (const name of ['routed_module_message_frame', 'routed_module_message_simple_uuid']) {
    const v = vector('routed_module_message', name)
    const message = decodeOrchestratorFrame(1, Buffer.from(v.wire_text)) as RoutedMessage
    t.equal(message.op, 'routed_module_message', `${name} decodes`)
    t.throws(() => decodeRequest(message), { code: 'FST_PYWATT_MODULE_PAYLOAD', message: /a request from billing names no endpoint \(metadata\.properties\.endpoint\)/ }, `${name}: no endpoint, no handler to pick`)
    t.equal(decodeAnswer(message), null, `${name}: not taken for an answer either`)
  }
  t.equal((decodeOrchestratorFrame(1, Buffer.from(vector('routed_module_message', 'routed_module_message_simple_uuid').wire_text)) as RoutedMessage).original_request_id, REQUEST_ID, 'a simple-form UUID is read hyphenated')
})

t.test('the same request with the endpoint in its inner envelope (what encodeRequest adds) gives the Rust value back', async (t) => {
  const request = rustRequest()
  const inner = JSON.parse(Buffer.from(request.payload.data).toString('utf8')) as { id: string, content: unknown, metadata: Record<string, unknown> }
  t.same(inner, vector('route_to_module', 'inner_payload_message').json, 'the inner envelope is the inner_payload_message vector')
  const withEndpoint = { ...inner, metadata: { properties: { endpoint: request.target_endpoint } } }
  const routed = routedRequest('billing', { ...request, payload: { data: [...Buffer.from(JSON.stringify(withEndpoint))], format: 'Json' } })
  t.same(decodeRequest(routed), { source: 'billing', requestId: REQUEST_ID, endpoint: 'get_user', value: { user_id: 42 } })
})

t.test('encodeRequest has the vector\'s shape: outer keys and order, format Json, data = UTF-8 JSON of {id, content, metadata}', async (t) => {
  const ours = encodeRequest('user-service', 'get_user', { user_id: 42 }, {}, REQUEST_ID)
  const text = encodeModuleEnvelope(ours, undefined, ENVELOPE_ID)
  const outer = JSON.parse(text) as { id: string, content: Record<string, any>, metadata: unknown }
  const rust = vector('route_to_module', 'route_to_module_enveloped_frame').json
  t.same(Object.keys(outer), Object.keys(rust), 'envelope keys')
  t.same(Object.keys(outer.content), Object.keys(rust.content), 'content keys, in Rust\'s order')
  t.same(Object.keys(outer.content.payload), ['data', 'format'])
  t.equal(outer.content.payload.format, 'Json')
  t.same(outer.metadata, {})
  const inner = JSON.parse(Buffer.from(outer.content.payload.data as number[]).toString('utf8')) as Record<string, unknown>
  t.same(Object.keys(inner), ['id', 'content', 'metadata'])
  t.same(inner.content, { user_id: 42 })
  t.same(inner.metadata, { properties: { endpoint: 'get_user' } }, 'the one difference: the endpoint travels in the inner envelope')

  // With Rust's inner bytes in place, the frame is Rust's, byte for byte.
  const rustPayload = { data: rust.content.payload.data as number[], format: 'Json' as const }
  const frame = encodeFrame(encodeModuleEnvelope({ ...ours, payload: rustPayload }, undefined, ENVELOPE_ID))
  t.equal(frame.toString('hex'), vector('route_to_module', 'route_to_module_enveloped_frame').frame_hex)
})

t.test('the routed_module_response vector: Rust\'s bare response value is an ok answer', async (t) => {
  const v = vector('routed_module_response', 'routed_module_response_frame')
  const response = decodeOrchestratorFrame(frameOf(v).format, frameOf(v).payload) as RoutedResponse
  t.same(decodeAnswer(response), { source: 'user-service', requestId: REQUEST_ID, outcome: { ok: true, value: { name: 'Ada' } } })
})

t.test('our own request and answer survive the real frame codecs both ways', async (t) => {
  const request = encodeRequest('user-service', 'get_user', { user_id: 42 }, { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' })
  const sent = decodeModuleFrame(1, encodeFrame(encodeModuleEnvelope(request)).subarray(5)).content as RouteToModule
  const delivered = decodeOrchestratorFrame(1, encodeFrame(encodeOrchestratorMessage(routedRequest('billing', sent))).subarray(5)) as RoutedMessage
  const incoming = decodeRequest(delivered)
  t.same(incoming, { source: 'billing', requestId: request.request_id, endpoint: 'get_user', value: { user_id: 42 }, traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' })
  t.equal(decodeAnswer(delivered), null)

  const answer = encodeAnswer('billing', request.request_id, { ok: true, value: { name: 'Ada' } })
  const answerSent = decodeModuleFrame(1, encodeFrame(encodeModuleEnvelope(answer)).subarray(5)).content as RouteToModule
  const back = decodeOrchestratorFrame(1, encodeFrame(encodeOrchestratorMessage(routedAnswer('user-service', answerSent))).subarray(5)) as RoutedResponse
  t.same(decodeAnswer(back), { source: 'user-service', requestId: request.request_id, outcome: { ok: true, value: { name: 'Ada' } } })
  // A Rust caller decodes payload.data directly as its response type: it sees our envelope, not the value.
  t.same(Object.keys(JSON.parse(Buffer.from(back.payload.data).toString('utf8'))), ['id', 'content', 'metadata'])
})
