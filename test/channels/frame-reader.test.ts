import { test } from 'tap'
import { readFileSync } from 'node:fs'
import { encodeFrame } from '../../lib/protocol/index.js'
import { FrameReader } from '../../lib/transport/frame-reader.js'

interface FrameVector { name: string, frame_hex?: string, frame_format_code?: number }
const vectors = JSON.parse(readFileSync(new URL('../fixtures/vectors/frames.json', import.meta.url), 'utf8')) as FrameVector[]

function collect (max = 1024): { reader: FrameReader, frames: Array<{ format: number, payload: string }>, faults: string[] } {
  const frames: Array<{ format: number, payload: string }> = []
  const faults: string[] = []
  const reader = new FrameReader(max, {
    onFrame: (format, payload) => frames.push({ format, payload: payload.toString('utf8') }),
    onFault: (err) => faults.push(err.message)
  })
  return { reader, frames, faults }
}

test('three frames reassemble the same whatever the cut: every split point and byte by byte', async (t) => {
  const stream = Buffer.concat([
    encodeFrame('{"op":"heartbeat"}'),
    encodeFrame(''),
    encodeFrame(JSON.stringify({ op: 'shutdown', pad: 'ü'.repeat(40) }))
  ])
  const expected = collect()
  expected.reader.push(stream)
  t.equal(expected.frames.length, 3)
  for (let cut = 1; cut < stream.length; cut++) {
    const { reader, frames, faults } = collect()
    reader.push(stream.subarray(0, cut))
    reader.push(stream.subarray(cut))
    if (JSON.stringify(frames) !== JSON.stringify(expected.frames) || faults.length > 0) {
      t.fail(`split at byte ${cut} changed the frames`)
      return
    }
  }
  const bytewise = collect()
  for (const byte of stream) bytewise.reader.push(Buffer.from([byte]))
  t.same(bytewise.frames, expected.frames, 'byte-by-byte delivery')
  t.equal(bytewise.reader.pendingBytes, 0)
})

test('a zero-length frame is delivered with an empty payload', async (t) => {
  const { reader, frames } = collect()
  reader.push(Buffer.from('0000000001', 'hex'))
  t.same(frames, [{ format: 1, payload: '' }])
})

test('a length over the cap is refused from the header alone, before any payload is allocated', async (t) => {
  const { reader, frames, faults } = collect(64)
  const before = process.memoryUsage().arrayBuffers
  reader.push(Buffer.from('ffffffff01', 'hex'))
  t.equal(faults.length, 1)
  t.match(faults[0], /frame length 4294967295 exceeds the maximum of 64 bytes/)
  t.ok(reader.failed)
  t.ok(process.memoryUsage().arrayBuffers - before < 1024 * 1024, 'no 4 GiB buffer')
  reader.push(encodeFrame('{"op":"heartbeat"}'))
  t.same(frames, [], 'nothing is read after a framing error')
})

test('invalid format bytes of the vectors are framing errors; valid ones pass', async (t) => {
  let checked = 0
  for (const v of vectors) {
    if (v.frame_hex === undefined || v.frame_format_code === undefined) continue
    const { reader, frames, faults } = collect(1024 * 1024)
    reader.push(Buffer.from(v.frame_hex, 'hex'))
    const valid = v.frame_format_code >= 1 && v.frame_format_code <= 3
    t.equal(faults.length, valid ? 0 : 1, `${v.name}: ${valid ? 'accepted' : 'framing error'}`)
    t.equal(frames.length, valid ? 1 : 0)
    if (!valid) t.match(faults[0], /invalid frame format byte/)
    checked++
  }
  t.ok(checked >= 4, 'vectors were checked')
})

test('a payload that spans chunks is filled in place at its final size', async (t) => {
  const big = JSON.stringify({ op: 'heartbeat', pad: 'x'.repeat(100_000) })
  const frame = encodeFrame(big)
  const { reader, frames } = collect(200_000)
  for (let at = 0; at < frame.length; at += 7_001) reader.push(frame.subarray(at, at + 7_001))
  t.equal(frames.length, 1)
  t.equal(frames[0]?.payload, big)
})
