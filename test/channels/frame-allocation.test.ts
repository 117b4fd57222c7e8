import { test } from 'tap'
import { FrameReader } from '../../lib/transport/frame-reader.js'

const CAP = 64 * 1024 * 1024

function arrayBufferBytes (): number {
  return process.memoryUsage().arrayBuffers
}

test('a frame header claiming 4 GiB is refused before any memory is reserved for it', async (t) => {
  const faults: string[] = []
  const frames: number[] = []
  const reader = new FrameReader(CAP, {
    onFrame: (_format, payload) => frames.push(payload.length),
    onFault: (err) => faults.push(err.message)
  })
  // An untouched allocUnsafe(4 GiB) moves RSS by almost nothing, but it is
  // counted in arrayBuffers at once: that is what is measured here.
  const probe = Buffer.allocUnsafe(256 * 1024 * 1024)
  const withProbe = arrayBufferBytes()
  t.ok(withProbe >= probe.length, 'the measure sees an allocation that was never touched')

  const before = arrayBufferBytes()
  reader.push(Buffer.from('ffffffff01', 'hex'))
  reader.push(Buffer.alloc(1024, 0x20))
  const grown = arrayBufferBytes() - before
  t.ok(grown < 1024 * 1024, `arrayBuffers grew ${grown} bytes`)
  t.equal(faults.length, 1)
  t.match(faults[0], /exceeds the maximum of 67108864 bytes/)
  t.same(frames, [])
})
