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

t.test('a Rust request names no endpoint: decodeRequest reads it for the catch-all (endpoint \'\'), decodeAnswer does not take it', async (t) => {
  // Rust's inner envelope is {id, content, metadata: {}}, and routed_module_message
  // carries no endpoint of its own (target_endpoint stays with the orchestrator).
  for (const name of ['routed_module_message_frame', 'routed_module_message_simple_uuid']) {
    const v = vector('routed_module_message', name)
    const message = decodeOrchestratorFrame(1, Buffer.from(v.wire_text)) as RoutedMessage
    t.equal(message.op, 'routed_module_message', `${name} decodes`)
    const value = JSON.parse(Buffer.from(v.json.payload.data).toString('utf8')) as { content?: unknown }
    // The frame vector carries a Rust envelope (its content is the value); the other a bare `{}`.
    t.same(decodeRequest(message), { source: 'billing', requestId: REQUEST_ID, endpoint: '', value: 'content' in value ? value.content : value }, `${name}: the Rust value, no endpoint named`)
    t.equal(decodeAnswer(message), null, `${name}: not taken for an answer either`)
  }
  t.equal((decodeOrchestratorFrame(1, Buffer.from(vector('routed_module_message', 'routed_module_message_simple_uuid').wire_text)) as RoutedMessage).original_request_id, REQUEST_ID, 'a simple-form UUID is read hyphenated')
})

t.test('the answer to a Rust request is the bare value, which is what a Rust caller decodes; errors stay envelopes', async (t) => {
  const bare = encodeAnswer('billing', REQUEST_ID, { ok: true, value: { name: 'Ada' } }, true)
  t.match(bare, { op: 'route_to_module', target_module_id: 'billing', target_endpoint: 'pywatt.answer', request_id: REQUEST_ID, payload: { format: 'Json' } })
  t.equal(Buffer.from(bare.payload.data).toString('utf8'), '{"name":"Ada"}')
  t.same(decodeAnswer(routedAnswer('user-service', bare)), { source: 'user-service', requestId: REQUEST_ID, outcome: { ok: true, value: { name: 'Ada' } } }, 'and our own caller reads it too')
  const bytes = encodeAnswer('billing', REQUEST_ID, { ok: true, value: Buffer.from([1, 2, 255]) }, true)
  t.equal(Buffer.from(bytes.payload.data).toString('utf8'), '"AQL/"', 'bytes as a base64 string')
  const refused = encodeAnswer('billing', REQUEST_ID, { ok: false, error: { code: 'no_handler', message: 'none', statusCode: 404 } }, true)
  t.same(decodeAnswer(routedAnswer('user-service', refused))?.outcome, { ok: false, error: { code: 'no_handler', message: 'none', statusCode: 404 } })
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
