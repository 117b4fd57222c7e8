import t from 'tap'
import { decodeOrchestratorFrame, parseStrictJsonDetailed } from '../../lib/protocol/index.js'
import { checkDecoder, deepLoneSurrogate, nestedFloatsUnderCap } from '../helpers/adversarial.js'

// The channel frame decoder and the strict parser under every decoder, fed
// hostile shapes (see test/helpers/adversarial.ts): linear time and memory,
// measured against JSON.parse of the same text.

const SMALL = 64 * 1024
const heartbeat = (x: string): string => `{"op":"heartbeat","x":${x}}`

t.test('decodeOrchestratorFrame (channel frames)', async (t) => {
  checkDecoder(t, { wrap: heartbeat, depth: 1, input: (text) => Buffer.from(text), decode: (payload) => decodeOrchestratorFrame(1, payload) }, SMALL)
  t.test('enveloped, in base64 (format 3)', async (t) => {
    checkDecoder(t, {
      wrap: (x) => `{"id":"0b9f4c2e-1a3d-4e5f-8a7b-6c5d4e3f2a10","content":${heartbeat(x)},"metadata":{}}`,
      depth: 2,
      input: (text) => Buffer.from(Buffer.from(text).toString('base64')),
      decode: (payload) => decodeOrchestratorFrame(3, payload)
    }, SMALL, { nestedFloatsUnderCap, deepLoneSurrogate })
  })
})

t.test('parseStrictJsonDetailed', async (t) => {
  checkDecoder(t, { wrap: (x) => x, depth: 0, input: (text) => text, decode: parseStrictJsonDetailed }, SMALL)
})
