import { test } from 'tap'
import { decodeOrchestratorFrame, decodeOrchestratorMessage, encodeOrchestratorMessage } from '../../lib/protocol/index.js'

const body = Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 256))
const request = { op: 'http_request' as const, request_id: 'r-1', method: 'POST', uri: '/ü', headers: { 'x-a': 'é' }, body }

test('a large bare http_request frame decodes (fast path) exactly as its stdio line does', async (t) => {
  const line = encodeOrchestratorMessage(request)
  const fromFrame = decodeOrchestratorFrame(1, Buffer.from(line))
  t.same(fromFrame, decodeOrchestratorMessage(line))
  t.ok(Buffer.isBuffer((fromFrame as { body: Buffer }).body))
  t.ok((fromFrame as { body: Buffer }).body.equals(body), 'every byte 0..255')
  t.equal((fromFrame as { uri: string }).uri, '/ü', 'non-ASCII text before the array')
})

test('fast path edge cases fall back to the strict decoder, with its error', async (t) => {
  const line = encodeOrchestratorMessage(request)
  const bad = Buffer.from(line)
  bad[bad.indexOf('/') + 1] = 0xff
  t.throws(() => decodeOrchestratorFrame(1, bad), { code: 'FST_PYWATT_PROTOCOL', message: /UTF-8/ }, 'invalid UTF-8 before the array')
  const outOfRange = Buffer.from(line.replace('"body":[0,', '"body":[256,'))
  t.throws(() => decodeOrchestratorFrame(1, outOfRange), { code: 'FST_PYWATT_PROTOCOL', message: /body/ })
  const otherOp = JSON.stringify({ op: 'heartbeat', pad: 'x'.repeat(2000), body: [1, 2, 3] })
  const generic = decodeOrchestratorFrame(1, Buffer.from(otherOp)) as { op: string, body: unknown }
  t.equal(generic.op, 'heartbeat')
  t.same(generic.body, [1, 2, 3], 'another op ending in a body array: generic path (no Buffer)')
  t.notOk(Buffer.isBuffer(generic.body))
  const enveloped = JSON.stringify({ id: '6f1c1b8e-9d2a-4c1e-8f3b-2a5d7c9e0b11', content: JSON.parse(line), metadata: {} })
  t.ok((decodeOrchestratorFrame(1, Buffer.from(enveloped)) as { body: Buffer }).body.equals(body), 'an envelope takes the generic path')
})
