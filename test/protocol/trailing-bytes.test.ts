import t from 'tap'
import { decodeOrchestratorMessage, type HttpRequestMessage } from '../../lib/protocol/index.js'
import { takeTrailingByteArray } from '../../lib/protocol/trailing-bytes.js'

const big = Array.from({ length: 2000 }, (_, i) => (i * 7) & 0xff)
const head = '{"op":"http_request","request_id":"r","method":"POST","uri":"/","headers":{"a":"b"}'

t.test('the fast path reads a trailing body array exactly', async (t) => {
  const line = `${head},"body":[${big.join(',')}]}`
  const fast = takeTrailingByteArray(line, 'body')
  t.ok(fast)
  t.same([...(fast?.bytes ?? [])], big)
  t.equal(fast?.rest, `${head},"body":null}`)
  const spaced = `${head} , "body" : [ ${big.join(' , ')} ] } \r`
  t.same([...(takeTrailingByteArray(spaced, 'body')?.bytes ?? [])], big, 'whitespace anywhere JSON allows it')
  t.same([...(takeTrailingByteArray(`${head},"body":[ ]}`, 'body')?.bytes ?? [1])], [], 'an empty array')
})

t.test('anything unusual falls back to the generic path', async (t) => {
  for (const [name, line] of [
    ['not last', '{"op":"http_request","body":[1,2],"request_id":"r"}'],
    ['nested', '{"op":"http_request","x":{"body":[1,2]}}'],
    ['no object end', `${head},"body":[1,2]`],
    ['another key', `${head},"bodies":[1,2]}`],
    ['escaped quote before the key', '{"op":"x","s":"a\\"body":[1]}'],
    ['float', `${head},"body":[1,2.0]}`],
    ['negative', `${head},"body":[-1]}`],
    ['out of range', `${head},"body":[256]}`],
    ['four digits', `${head},"body":[0001]}`],
    ['leading zero', `${head},"body":[01]}`],
    ['string', `${head},"body":["1"]}`],
    ['double comma', `${head},"body":[1,,2]}`],
    ['trailing comma', `${head},"body":[1,]}`],
    ['no array', `${head},"body":null}`],
    ['no colon', `${head},"body" [1]}`]
  ] as const) {
    t.equal(takeTrailingByteArray(line, 'body'), null, name)
  }
})

t.test('decoding a long http_request: same message either way; errors still precise', async (t) => {
  const line = `${head},"body":[${big.join(',')}]}`
  const msg = decodeOrchestratorMessage(line) as HttpRequestMessage
  t.ok(Buffer.isBuffer(msg.body))
  t.same([...(msg.body ?? [])], big)
  t.same({ ...msg, body: undefined }, { op: 'http_request', request_id: 'r', method: 'POST', uri: '/', headers: { a: 'b' }, body: undefined })
  t.throws(() => decodeOrchestratorMessage(`${head},"body":[${big.join(',')},256]}`), { message: /field `body\[2000\]`/ })
  t.throws(() => decodeOrchestratorMessage(`${head},"body":null,"body":[${big.join(',')}]}`), { message: /duplicate/ })
  const other = decodeOrchestratorMessage(`{"op":"heartbeat","pad":"${'x'.repeat(2000)}","body":[1,2,3]}`)
  t.same(other.op, 'heartbeat', 'another op ending in a body array decodes the generic way')
})
