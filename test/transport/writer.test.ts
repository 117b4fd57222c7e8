import t from 'tap'
import { PassThrough, Writable } from 'node:stream'
import { ProtocolWriter } from '../../lib/transport/writer.js'

t.test('lines sent in one tick leave in one write to the stream', async (t) => {
  const batches: number[] = []
  const out = new Writable({
    writev (chunks, cb) { batches.push(chunks.length); cb() },
    write (_chunk, _enc, cb) { batches.push(1); cb() }
  })
  const w = new ProtocolWriter(out, { highWaterBytes: 1024, maxQueuedBytes: 4096 })
  for (let i = 0; i < 5; i++) w.send(`{"n":${i}}`)
  await new Promise((resolve) => setImmediate(resolve))
  w.send('{"n":5}')
  await new Promise((resolve) => setImmediate(resolve))
  t.same(batches, [5, 1], 'a line of a later tick goes on its own')
})

t.test('each message is one line; stats count them', async (t) => {
  const out = new PassThrough()
  const w = new ProtocolWriter(out, { highWaterBytes: 1024, maxQueuedBytes: 4096 })
  w.send('{"op":"a"}')
  w.send('{"op":"b"}')
  await w.flush()
  t.equal(out.read().toString(), '{"op":"a"}\n{"op":"b"}\n')
  t.same(w.stats, { lines: 2, bytes: 22, dropped: 0 })
})

t.test('pressure past the high-water mark, drain when the reader catches up, refusal past the cap', async (t) => {
  let release: (() => void) | null = null
  const slow = new Writable({
    highWaterMark: 16,
    write (_chunk, _enc, cb) { release = () => cb() }
  })
  const w = new ProtocolWriter(slow, { highWaterBytes: 50, maxQueuedBytes: 100 })
  const events: string[] = []
  w.on('pressure', () => events.push('pressure'))
  w.on('drain', () => events.push('drain'))
  const line = 'x'.repeat(39)
  w.send(line)
  w.send(line)
  t.same(events, ['pressure'])
  w.send(line)
  t.ok(w.queuedBytes > 100)
  t.throws(() => w.send(line), { code: 'FST_PYWATT_OUTPUT_OVERFLOW' })
  t.doesNotThrow(() => w.send('{"op":"heartbeat_ack"}', true), 'essential lines bypass the cap')
  // Lines of one tick are corked: they reach the stream when the tick ends.
  await new Promise((resolve) => setImmediate(resolve))
  while (release !== null) {
    const r: () => void = release
    release = null
    r()
    await new Promise((resolve) => setImmediate(resolve))
  }
  t.same(events, ['pressure', 'drain'])
  t.equal(w.queuedBytes, 0)
})

t.test('EPIPE closes the writer; later sends throw and flush returns', async (t) => {
  const out = new Writable({
    write (_chunk, _enc, cb) {
      const err = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' })
      cb(err)
    }
  })
  const w = new ProtocolWriter(out, { highWaterBytes: 1024, maxQueuedBytes: 4096 })
  const closed = new Promise((resolve) => w.once('closed', resolve))
  w.send('{"op":"a"}')
  t.equal(await closed, 'EPIPE')
  t.equal(w.closedReason, 'EPIPE')
  t.throws(() => w.send('{}'), { code: 'FST_PYWATT_CHANNEL_CLOSED' })
  await w.flush()
})

t.test('a non-EPIPE error and a closed output both close the writer', async (t) => {
  const a = new PassThrough()
  const wa = new ProtocolWriter(a, { highWaterBytes: 1, maxQueuedBytes: 2 })
  a.emit('error', new Error('boom'))
  t.equal(wa.closedReason, 'boom')
  const b = new PassThrough()
  const wb = new ProtocolWriter(b, { highWaterBytes: 1, maxQueuedBytes: 2 })
  b.destroy()
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(wb.closedReason, 'output closed')
})

t.test('flush waits for queued bytes', async (t) => {
  let cbs: Array<() => void> = []
  const out = new Writable({ highWaterMark: 4, write (_c, _e, cb) { cbs.push(() => cb()) } })
  const w = new ProtocolWriter(out, { highWaterBytes: 1024, maxQueuedBytes: 4096 })
  w.send('{"op":"a"}')
  let flushed = false
  const f = w.flush().then(() => { flushed = true })
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(flushed, false)
  while (cbs.length > 0) {
    const now = cbs
    cbs = []
    for (const cb of now) cb()
    await new Promise((resolve) => setImmediate(resolve))
  }
  await f
  t.equal(flushed, true)
})

t.test('a line in parts leaves whole, bytes as they are, in the same batch as its neighbours', async (t) => {
  const batches: Buffer[][] = []
  const out = new Writable({
    writev (chunks, cb) { batches.push(chunks.map((c) => Buffer.from(c.chunk as Buffer | string))); cb() },
    write (chunk, _enc, cb) { batches.push([Buffer.from(chunk as Buffer)]); cb() }
  })
  const w = new ProtocolWriter(out, { highWaterBytes: 1024, maxQueuedBytes: 4096 })
  w.send('{"n":0}')
  w.sendParts(['{"a":', Buffer.from('[1,2,255]'), '}'])
  w.send('{"n":1}')
  await w.flush()
  t.equal(batches.length, 1, 'one writev')
  t.equal(Buffer.concat(batches[0] ?? []).toString(), '{"n":0}\n{"a":[1,2,255]}\n{"n":1}\n')
  t.same(w.stats, { lines: 3, bytes: 32, dropped: 0 })
})

t.test('sendParts obeys the same cap and closed state as send', async (t) => {
  const out = new Writable({ write (_chunk, _enc, cb) { setTimeout(cb, 50) } })
  const w = new ProtocolWriter(out, { highWaterBytes: 8, maxQueuedBytes: 16 })
  w.sendParts(['{"a":', Buffer.alloc(32, 0x31), '}'])
  t.throws(() => w.sendParts(['{"a":', Buffer.from('[1]'), '}']), { code: 'FST_PYWATT_OUTPUT_OVERFLOW' })
  t.doesNotThrow(() => w.sendParts(['{"a":', Buffer.from('[1]'), '}'], true), 'essential lines pass')
  out.destroy(new Error('gone'))
  await new Promise((resolve) => setImmediate(resolve))
  t.throws(() => w.sendParts(['{"a":', Buffer.from('[1]'), '}'], true), { code: 'FST_PYWATT_CHANNEL_CLOSED' })
  t.equal(w.stats.dropped, 2, 'the refused lines are counted')
})
