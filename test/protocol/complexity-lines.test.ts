import t from 'tap'
import { decodeHttpRequestBytes } from '../../lib/protocol/decode.js'
import { decodeInit, decodeOrchestratorMessage } from '../../lib/protocol/index.js'
import { checkDecoder, deepLoneSurrogate, manyKeysDeepFloats, nestedFloatsUnderCap } from '../helpers/adversarial.js'

// The stdin decoders fed hostile shapes (see test/helpers/adversarial.ts):
// linear time and memory, measured against JSON.parse of the same text.

// 8n stays under the Init line's 1 MiB cap.
const SMALL = 64 * 1024
// The shapes that took superlinear time or memory before the scan kept a tree of
// float paths; the others go through the same scan and are covered in full on
// decodeOrchestratorMessage.
const FORMERLY_SUPERLINEAR = { nestedFloatsUnderCap, manyKeysDeepFloats, deepLoneSurrogate }
const INIT = '"orchestrator_api":"http://127.0.0.1:9900","module_id":"m","env":{},"listen":"127.0.0.1:4102"'

t.test('decodeOrchestratorMessage (stdin lines)', async (t) => {
  checkDecoder(t, { wrap: (x) => `{"op":"heartbeat","x":${x}}`, depth: 1, input: (text) => text, decode: decodeOrchestratorMessage }, SMALL)
})

t.test('decodeInit (the Init line)', async (t) => {
  checkDecoder(t, { wrap: (x) => `{${INIT},"x":${x}}`, depth: 1, input: (text) => text, decode: decodeInit }, SMALL, FORMERLY_SUPERLINEAR)
})

t.test('decodeHttpRequestBytes (the raw-bytes fast path of stdin)', async (t) => {
  checkDecoder(t, {
    // The body array ends the line, as the fast path needs.
    wrap: (x) => `{"op":"http_request","request_id":"r","method":"POST","uri":"/","headers":{},"x":${x},"body":[${'7,'.repeat(600)}7]}`,
    depth: 1,
    input: (text) => Buffer.from(text),
    decode: decodeHttpRequestBytes,
    refuses: (t, input, expected, name) => {
      // The fast path declines; the stdio channel then decodes the line as text, which says why.
      t.equal(decodeHttpRequestBytes(input), null, `${name}: declined by the fast path`)
      t.throws(() => decodeOrchestratorMessage(input.toString()), expected, `${name}: refused as text`)
    }
  }, SMALL, FORMERLY_SUPERLINEAR)
})
