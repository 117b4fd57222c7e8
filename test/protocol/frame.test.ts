import t from 'tap'
import { readFileSync } from 'node:fs'
import {
  DEFAULT_MAX_FRAME_LENGTH, FRAME_HEADER_BYTES, decodeFramePayload, decodeModuleFrame, decodeOrchestratorFrame,
  encodeFrame, encodeModuleEnvelope, readFrame, readFrameHeader
} from '../../lib/protocol/index.js'

interface FrameVector { name: string, frame_hex?: string, frame_format_code?: number, json: unknown, wire_text?: string }

const frames = JSON.parse(readFileSync(new URL('../fixtures/vectors/frames.json', import.meta.url), 'utf8')) as FrameVector[]
const PROTOCOL_ERROR = 'FST_PYWATT_PROTOCOL'

t.test('every frames.json vector through the codec', async (t) => {
  let seen = 0
  for (const v of frames) {
    const bytes = Buffer.from(v.frame_hex as string, 'hex')
    const format = v.frame_format_code as number
    t.equal(bytes[4], format, `${v.name}: format byte`)
    if (format === 0 || format >= 4) {
      // Fatal framing error, detected from the header alone.
      t.throws(() => readFrameHeader(bytes), { code: PROTOCOL_ERROR, message: new RegExp(`invalid frame format byte ${format}`) }, v.name)
      t.throws(() => decodeFramePayload(format, bytes.subarray(5)), { code: PROTOCOL_ERROR }, v.name)
    } else {
      const header = readFrameHeader(bytes)
      t.same(header, { length: bytes.length - FRAME_HEADER_BYTES, format }, `${v.name}: header`)
      const frame = readFrame(bytes)
      t.equal(frame?.size, bytes.length)
      if (v.json === null) {
        t.throws(() => decodeFramePayload(format, frame?.payload as Buffer), { code: PROTOCOL_ERROR }, `${v.name}: payload is not JSON`)
      } else {
        t.same(decodeFramePayload(format, frame?.payload as Buffer), v.json, `${v.name}: payload`)
        if (format === 1) t.same(encodeFrame(v.wire_text as string), bytes, `${v.name}: encodeFrame reproduces Rust's bytes`)
      }
    }
    seen++
  }
  t.equal(seen, frames.length)
  const zero = readFrame(Buffer.from('0000000001', 'hex'))
  t.same(zero && { format: zero.format, length: zero.payload.length, size: zero.size }, { format: 1, length: 0, size: 5 }, 'zero-length frame is legal at the framing level')
})

t.test('encodeFrame', async (t) => {
  const frame = encodeFrame(Buffer.from('{"op":"heartbeat"}'))
  t.equal(frame.toString('hex'), '00000012017b226f70223a22686561727462656174227d')
  t.same(encodeFrame(new Uint8Array(0)), Buffer.from([0, 0, 0, 0, 1]), 'empty payload')
  t.same(encodeFrame('é'), Buffer.from([0, 0, 0, 2, 1, 0xc3, 0xa9]), 'strings are UTF-8; length counts bytes')
  for (const format of [0, 2, 3, 4]) {
    t.throws(() => encodeFrame('{}', format), { code: 'FST_PYWATT_ENCODE', message: new RegExp(`frame format ${format} must not be emitted`) })
  }
  t.throws(() => encodeFrame({ length: 2 ** 32 } as unknown as Uint8Array), { code: 'FST_PYWATT_ENCODE', message: /does not fit a u32/ })
})

t.test('readFrameHeader and readFrame', async (t) => {
  t.throws(() => readFrameHeader(Buffer.from([0, 0, 0, 1])), { code: PROTOCOL_ERROR, message: /need 5 bytes, got 4/ })
  // Only the 5 header bytes exist: the oversize length is refused before any payload is awaited or allocated.
  const huge = Buffer.from([0xff, 0xff, 0xff, 0xff, 1])
  t.throws(() => readFrameHeader(huge), { code: PROTOCOL_ERROR, message: /frame length 4294967295 exceeds the maximum of 67108864 bytes/ })
  t.throws(() => readFrame(huge), { code: PROTOCOL_ERROR, message: /exceeds/ }, 'readFrame fails instead of waiting for 4 GiB')
  t.equal(DEFAULT_MAX_FRAME_LENGTH, 64 * 1024 * 1024)
  const justOver = Buffer.from([0x04, 0x00, 0x00, 0x01, 1])
  t.throws(() => readFrameHeader(justOver), { message: /exceeds/ }, '64 MiB + 1')
  t.same(readFrameHeader(Buffer.from([0x04, 0x00, 0x00, 0x00, 1])), { length: 64 * 1024 * 1024, format: 1 }, 'exactly 64 MiB is fine')
  t.throws(() => readFrameHeader(Buffer.from([0, 0, 0, 11, 1]), 10), { message: /frame length 11 exceeds the maximum of 10/ }, 'custom cap')
  t.throws(() => readFrameHeader(Buffer.from([0, 0, 0, 0, 255])), { message: /invalid frame format byte 255/ })
  t.throws(() => readFrameHeader(Buffer.from([0, 0, 0, 0, 0])), { message: /0 is "Auto"/ })

  t.equal(readFrame(Buffer.alloc(0)), undefined, 'nothing yet')
  t.equal(readFrame(Buffer.from([0, 0, 0])), undefined, 'partial header')
  t.equal(readFrame(Buffer.from([0, 0, 0, 2, 1, 0x7b])), undefined, 'partial payload')
  const two = Buffer.concat([encodeFrame('{"op":"heartbeat"}'), encodeFrame('{"op":"shutdown"}')])
  const first = readFrame(two)
  t.equal(first?.payload.toString(), '{"op":"heartbeat"}')
  const second = readFrame(two.subarray(first?.size))
  t.equal(second?.payload.toString(), '{"op":"shutdown"}')
})

t.test('payload formats', async (t) => {
  const json = Buffer.from('{"op":"heartbeat"}')
  t.same(decodeFramePayload(1, json), { op: 'heartbeat' })
  t.same(decodeFramePayload(2, json), { op: 'heartbeat' }, 'Binary holding JSON bytes')
  t.same(decodeFramePayload(3, Buffer.from(json.toString('base64'))), { op: 'heartbeat' }, 'Base64')
  t.throws(() => decodeFramePayload(3, Buffer.from('eyJvcCI6*mhlYXJ0YmVhdCJ9')), { code: PROTOCOL_ERROR, message: /format 3 \(Base64\) frame payload is not valid padded base64/ })
  t.throws(() => decodeFramePayload(3, Buffer.from('eyJvcCI6ImhlYXJ0YmVhdCJ9'.slice(0, -1))), { message: /not valid padded base64/ }, 'unpadded')
  t.throws(() => decodeFramePayload(1, Buffer.from([0x7b, 0xff, 0x7d])), { code: PROTOCOL_ERROR, message: /frame payload is not valid UTF-8/ })
  t.throws(() => decodeFramePayload(2, Buffer.from([0xff])), { message: /format 2 \(Binary\) frame payload is not JSON; bincode is not supported \(.*UTF-8/ })
  t.throws(() => decodeFramePayload(1, Buffer.from('{"a":1,"a":2}')), { message: /duplicate key `a`/ }, 'strict JSON rules apply')
})

t.test('message decoding from frames', async (t) => {
  const bare = Buffer.from('{"op":"port_response","request_id":"x","success":true,"port":4102.0}')
  t.throws(() => decodeOrchestratorFrame(1, bare), { message: /field `port`: expected an integer, got a float literal/ })
  const enveloped = Buffer.from('{"id":"6f1c1b8e-9d2a-4c1e-8f3b-2a5d7c9e0b11","content":{"op":"port_response","request_id":"x","success":true,"port":1e3},"metadata":{}}')
  t.throws(() => decodeOrchestratorFrame(1, enveloped), { message: /field `content\.port`: expected an integer, got a float literal/ }, 'float rule inside an unwrapped envelope')
  t.throws(() => decodeOrchestratorFrame(1, Buffer.from('{"id":"6f1c1b8e-9d2a-4c1e-8f3b-2a5d7c9e0b11","content":[1]}')), { message: /field `content`: expected a JSON object, got an array/ })
  t.throws(() => decodeOrchestratorFrame(1, Buffer.from('{"id":"nope","content":{"op":"heartbeat"}}')), { message: /field `id`: expected a UUID/ })
  t.same(decodeOrchestratorFrame(3, Buffer.from(Buffer.from('{"op":"shutdown"}').toString('base64'))), { op: 'shutdown' })

  const out = encodeModuleEnvelope({ op: 'heartbeat_ack' }, undefined, '6F1C1B8E9D2A4C1E8F3B2A5D7C9E0B11')
  t.equal(out, '{"id":"6f1c1b8e-9d2a-4c1e-8f3b-2a5d7c9e0b11","content":{"op":"heartbeat_ack"},"metadata":{}}', 'explicit id normalised')
  t.same(decodeModuleFrame(1, Buffer.from(out)), { id: '6f1c1b8e-9d2a-4c1e-8f3b-2a5d7c9e0b11', content: { op: 'heartbeat_ack' }, metadata: {} })
  t.throws(() => decodeModuleFrame(1, Buffer.from('{"op":"heartbeat_ack"}')), { message: /missing field `id`/ }, 'module frames are enveloped')
  t.throws(() => decodeModuleFrame(1, Buffer.from('{"id":"6f1c1b8e-9d2a-4c1e-8f3b-2a5d7c9e0b11","content":{"op":"http_response","request_id":"r","status_code":200.0,"headers":{}}}')),
    { message: /field `content\.status_code`: expected an integer, got a float literal/ })
})
