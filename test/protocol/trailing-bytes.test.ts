import t from 'tap'
import { decodeHttpRequestBytes, decodeOrchestratorMessage, type HttpRequestMessage } from '../../lib/protocol/index.js'
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
    ['no colon', `${head},"body" [1]}`],
    // Each of these characters has the low byte of an ASCII digit, comma, bracket, colon or quote.
    ['wide character as a digit', `${head},"body":[\u0131]}`],
    ['wide character as a comma', `${head},"body":[1\u012c2]}`],
    ['wide character as brackets', `${head},"body":\u015b1\u015d}`],
    ['wide character as a colon', `${head},"body"\u013a[1]}`],
    ['wide character as a quote', `${head},"body\u0122:[1]}`],
    ['wide character as the closing brace', `${head},"body":[1]\u017d`]
  ] as const) {
    t.equal(takeTrailingByteArray(line, 'body'), null, name)
  }
  const wide = `${head},"uri2":"/${'a'.repeat(1100)}","body":[\u0131]}`
  t.throws(() => decodeOrchestratorMessage(wide), { code: 'FST_PYWATT_PROTOCOL', message: /invalid JSON/ }, 'a line only the fast path misread is refused, not decoded')
  t.same([...(takeTrailingByteArray(`${head},"é":"\u00ff\u0131","body":[1]}`, 'body')?.bytes ?? [])], [1], 'wide characters before the key are no concern')
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

t.test('a compact list switches to the general reader at the first blank, and still rejects what it must', async (t) => {
  t.same([...(takeTrailingByteArray(`${head},"body":[1,2, 3 ,255]}`, 'body')?.bytes ?? [])], [1, 2, 3, 255])
  t.same([...(takeTrailingByteArray(`${head},"body":[0,10,100,0]}`, 'body')?.bytes ?? [])], [0, 10, 100, 0], 'one, two and three digits, and zero')
  for (const list of ['1000', '00', '300', '1,2,00', '7,-1', '1, 01']) {
    t.equal(takeTrailingByteArray(`${head},"body":[${list}]}`, 'body'), null, list)
  }
})

t.test('decodeHttpRequestBytes: the line read from its bytes, or null for the text path to judge', async (t) => {
  const line = `${head},"body":[${big.join(',')}]}`
  const msg = decodeHttpRequestBytes(Buffer.from(line)) as HttpRequestMessage
  t.same(msg, decodeOrchestratorMessage(line), 'the same message as the text path')
  t.ok(Buffer.isBuffer(msg.body))
  const nonAscii = `{"op":"http_request","request_id":"r","method":"POST","uri":"/é","headers":{"x":"✓"},"body":[${big.join(',')}]}`
  t.same(decodeHttpRequestBytes(Buffer.from(nonAscii)), decodeOrchestratorMessage(nonAscii), 'UTF-8 outside the array')
  const invalidUtf8 = Buffer.concat([Buffer.from('{"op":"http_request","request_id":"'), Buffer.from([0xff]), Buffer.from(`","method":"POST","uri":"/","headers":{},"body":[${big.join(',')}]}`)])
  for (const [name, bytes] of [
    ['short', Buffer.from(`${head},"body":[1]}`)],
    ['not op first', Buffer.from(`{"request_id":"r","op":"http_request","method":"POST","uri":"/","headers":{},"body":[${big.join(',')}]}`)],
    ['invalid UTF-8 before the array', invalidUtf8],
    ['a bad field', Buffer.from(`{"op":"http_request","request_id":7,"method":"POST","uri":"/","headers":{},"body":[${big.join(',')}]}`)],
    ['another op', Buffer.from(`{"op":"heartbeat","pad":"${'x'.repeat(2000)}","body":[1,2,3]}`)],
    ['a bad array', Buffer.from(`${head},"body":[${big.join(',')},256]}`)]
  ] as const) {
    t.equal(decodeHttpRequestBytes(bytes), null, name)
  }
})

t.test('the byte path agrees with the text path on random http_request lines, valid or not', async (t) => {
  let seed = 7
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return (seed >>> 8) % n
  }
  const pick = <T>(xs: readonly T[]): T => xs[rnd(xs.length)] as T
  const numbers = (): string => {
    const out: string[] = []
    for (let i = 0, n = 300 + rnd(600); i < n; i++) out.push(String(rnd(256)))
    // Now and then one element that no byte array may hold, or a blank JSON allows.
    if (rnd(4) === 0) out[rnd(out.length)] = pick(['256', '01', '-1', '1.0', '1e2', '"7"', ' 7 ', '', 'null', '1000'])
    return out.join(pick([',', ',', ', ']))
  }
  let fast = 0
  let rejected = 0
  for (let i = 0; i < 800; i++) {
    const fields = [
      // Mostly valid values, so that both outcomes come up.
      `"request_id":${pick(['"r-1"', '"é✓"', '"a\\"b"', '"r-2"', '"r-3"', '7'])}`,
      `"method":${pick(['"POST"', '"GET"', '"PUT"', 'null'])}`,
      `"uri":${pick(['"/x"', '"/é?q=1"', '"/\\u00e9"', '"/y"'])}`,
      `"headers":${pick(['{}', '{"a":"b"}', '{"x-é":"✓"}', '{}', '{"a":1}', '{"a":"b","a":"c"}'])}`
    ]
    const line = `{"op":"http_request",${fields.join(',')},"body":[${numbers()}]${pick(['', '', ' ', ',"x":1'])}}`
    let text: unknown
    try {
      text = decodeOrchestratorMessage(line)
    } catch {
      text = null
      rejected++
    }
    const bytes = decodeHttpRequestBytes(Buffer.from(line))
    if (bytes === null) continue
    fast++
    if (text === null) {
      t.fail(`the byte path accepted a line the text path rejects: ${line.slice(0, 200)}`)
      return
    }
    t.same(bytes, text, `line ${i}`)
  }
  t.ok(fast > 100 && rejected > 50, `both outcomes exercised: ${fast} read from bytes, ${rejected} rejected by the text path`)
})
