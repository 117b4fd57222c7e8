import t, { type Test } from 'tap'
import { performance } from 'node:perf_hooks'
import {
  decodeModuleMessage, decodeOrchestratorMessage, encodeHttpReply, encodeModuleMessage, encodeOrchestratorMessage,
  parseStrictJsonDetailed
} from '../../lib/protocol/index.js'

// Sanity checks for 16 MiB bodies (≈60 MB of JSON per line). Timings are
// reported as comments, never asserted: CI machines vary too much.
const SIZE = 16 * 1024 * 1024

function timed<R> (t: Test, label: string, fn: () => R): R {
  const start = performance.now()
  const result = fn()
  t.comment(`${label}: ${(performance.now() - start).toFixed(0)} ms`)
  return result
}

t.test('a 16 MiB number array scans linearly', async (t) => {
  const count = SIZE / 3
  const line = `{"op":"http_request","body":[${Array.from({ length: count }, (_, i) => i % 256).join(',')}]}`
  t.ok(line.length > SIZE, `${line.length} characters`)
  timed(t, 'JSON.parse alone, for comparison', () => JSON.parse(line))
  const { value, floats } = timed(t, 'strict parse (JSON.parse + scan)', () => parseStrictJsonDetailed(line))
  t.equal((value as { body: number[] }).body.length, Math.floor(count))
  t.same(floats, [])
})

t.test('a 16 MiB HTTP body through encode and decode', async (t) => {
  const body = Buffer.alloc(SIZE)
  for (let i = 0; i < SIZE; i++) body[i] = (i * 31) & 0xff

  const reply = timed(t, 'encodeHttpReply (Buffer body)', () => encodeHttpReply({ request_id: 'big', status_code: 200, headers: {}, body }, 'm'))
  t.ok(reply.length > SIZE * 3)
  const decoded = timed(t, 'decodeModuleMessage (wrapper)', () => decodeModuleMessage(reply))
  if (decoded.op !== 'http_reply') throw new Error('expected the reply wrapper')
  t.equal(decoded.content.body?.length, SIZE)
  t.ok(Buffer.from(decoded.content.body as number[]).equals(body), 'bytes survive the round trip')

  const request = timed(t, 'encodeOrchestratorMessage (http_request)', () => encodeOrchestratorMessage({ op: 'http_request', request_id: 'big', method: 'POST', uri: '/', headers: {}, body }))
  const message = timed(t, 'decodeOrchestratorMessage (http_request)', () => decodeOrchestratorMessage(request))
  if (message.op !== 'http_request') throw new Error('expected http_request')
  t.equal(message.body?.length, SIZE)
  t.equal(message.body?.[SIZE - 1], ((SIZE - 1) * 31) & 0xff)

  const numbers = Array.from(body.subarray(0, 1024 * 1024))
  const tagged = timed(t, 'encodeModuleMessage (1 MiB number[] body)', () => encodeModuleMessage({ op: 'http_response', request_id: 'r', status_code: 200, headers: {}, body: numbers }))
  t.equal(tagged, JSON.stringify({ op: 'http_response', request_id: 'r', status_code: 200, headers: {}, body: numbers }))
})
