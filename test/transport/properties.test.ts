import t from 'tap'
import fc from 'fast-check'
import { deepStrictEqual } from 'node:assert/strict'
import { PassThrough } from 'node:stream'
import { encodeFrame } from '../../lib/protocol/index.js'
import { FrameReader } from '../../lib/transport/frame-reader.js'
import { LineSplitter } from '../../lib/transport/line-splitter.js'
import { DEFAULT_LIMITS, StdioChannel } from '../../lib/transport/stdio-channel.js'
import { captureLogger } from '../helpers/log-capture.js'
import { checkAsyncProperty, checkProperty, chunksOf, cutsArb } from '../helpers/property.js'

// Property tests (fast-check): however a byte stream is cut into chunks, the
// readers see the same lines, frames and faults as from one write.

/** Bytes rich in what the splitter cares about: newlines, CRs, multi-byte UTF-8 and invalid UTF-8. */
const lineBytes = fc.array(fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0x20, max: 0x7e }) },
  { weight: 2, arbitrary: fc.constant(0x0a) },
  { weight: 1, arbitrary: fc.constantFrom(0x0d, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x80, 0xff) }
), { maxLength: 400 }).map((bytes) => Buffer.from(bytes))

type SplitterEvent = ['line', string] | ['raw', string] | ['fault', string]

/** Everything a splitter reports for `chunks`; lines starting with `!` are claimed as raw bytes. */
function split (chunks: Buffer[], maxLineBytes: number): SplitterEvent[] {
  const events: SplitterEvent[] = []
  const splitter = new LineSplitter(maxLineBytes, {
    onLine: (line) => { events.push(['line', line]) },
    onRawLine: (bytes) => {
      if (bytes[0] !== 0x21) return false
      events.push(['raw', bytes.toString('hex')])
      return true
    },
    onFault: (fault) => { events.push(['fault', JSON.stringify(fault)]) }
  })
  for (const chunk of chunks) splitter.push(chunk)
  splitter.end()
  return events
}

/** A line cap, and bytes whose lines are often just under, at or just over it. */
const splitterCase = fc.integer({ min: 0, max: 48 }).chain((max) => fc.record({
  max: fc.constant(max),
  bytes: fc.array(fc.oneof(lineBytes, fc.integer({ min: Math.max(0, max - 1), max: max + 1 }).map((n) => Buffer.alloc(n, 0x61))), { maxLength: 6 })
    .map((parts) => Buffer.concat(parts.flatMap((part) => [Buffer.from('\n'), part]).slice(1)))
}))

t.test('line splitter: any chunking gives the lines and faults of one write', async (t) => {
  checkProperty(t, 'same events', fc.property(splitterCase, cutsArb(600), ({ max, bytes }, cuts) => {
    deepStrictEqual(split(chunksOf(bytes, cuts), max), split([bytes], max))
  }), 1000)
})

const INIT = '{"orchestrator_api":"http://127.0.0.1:9900","module_id":"m","env":{},"listen":"127.0.0.1:4102"}'
const LIMITS = { ...DEFAULT_LIMITS, maxInitBytes: 256, maxLineBytes: 3000, initTimeout: 60_000, partialLineWarning: 60_000 }
const body = Array.from({ length: 400 }, (_, i) => (i * 31) & 0xff).join(',')

const firstLine = fc.constantFrom(
  INIT, `${INIT}\r`, `{"op":"init",${INIT.slice(1)}`, '{"orchestrator_api":', '[]', '',
  `{"orchestrator_api":"http://127.0.0.1:9900","module_id":"m","env":{"PAD":"${'p'.repeat(LIMITS.maxInitBytes)}"},"listen":"127.0.0.1:4102"}`
).map((line) => Buffer.from(line))
const laterLine = fc.oneof(
  fc.constantFrom(
    '{"op":"heartbeat"}', '{"op":"shutdown"}', '  ', '{"op":"heartbeat"', '{"op":"nope"}',
    '{"op":"http_request","request_id":"a","method":"GET","uri":"/","headers":{},"body":[1,2]}',
    // Over 1 KiB with the body last: read from its bytes.
    `{"op":"http_request","request_id":"b","method":"POST","uri":"/","headers":{},"body":[${body}]}`,
    `{"op":"http_request","request_id":"c","method":"POST","uri":"/","headers":{},"body":[${body},256]}`,
    `{"op":"heartbeat","pad":"${'x'.repeat(LIMITS.maxLineBytes)}"}`
  ).map((line) => Buffer.from(line)),
  fc.constant(Buffer.from([0x7b, 0xfe, 0x7d])),
  lineBytes.map((bytes) => bytes.filter((b) => b !== 0x0a))
)
const stdinBytes = fc.tuple(firstLine, fc.array(laterLine, { maxLength: 6 }), fc.boolean())
  .map(([first, later, newlineAtEnd]) => Buffer.concat([first, ...later.flatMap((line) => [Buffer.from('\n'), line]), Buffer.from(newlineAtEnd ? '\n' : '')]))

/** What a StdioChannel makes of `chunks` written to its stdin: the Init outcome, then what was dispatched and refused. */
async function readStdin (chunks: Buffer[]): Promise<unknown> {
  const input = new PassThrough()
  const output = new PassThrough()
  output.resume()
  const channel = new StdioChannel(input, output, LIMITS, captureLogger().logger)
  const dispatched: unknown[] = []
  for (const op of ['heartbeat', 'shutdown', 'http_request'] as const) {
    channel.router.on(op, (message) => { dispatched.push(JSON.parse(JSON.stringify(message))) })
  }
  const invalid: string[] = []
  channel.on('invalid', (line: string, err: Error) => { invalid.push(`${line} → ${err.message}`) })
  const eof = new Promise((resolve) => channel.once('eof', resolve))
  const init = channel.readInit().then((blob) => ({ blob }), (err: Error) => ({ error: err.message }))
  for (const chunk of chunks) input.write(chunk)
  input.end()
  const outcome = await init
  // A refused Init line stops reading (the module exits): nothing more is read.
  if ('error' in outcome) return { outcome }
  await eof
  return { outcome, dispatched, invalid, stats: channel.stats }
}

t.test('stdin: any chunking gives the Init outcome and the messages of one write', async (t) => {
  await checkAsyncProperty(t, 'same outcome', fc.asyncProperty(stdinBytes, cutsArb(8000), async (bytes, cuts) => {
    deepStrictEqual(await readStdin(chunksOf(bytes, cuts)), await readStdin([bytes]))
  }), 300)
})

const CAP = 48

/** A frame header announcing `length` bytes in format `format` (neither checked). */
function header (length: number, format: number): Buffer {
  const out = Buffer.alloc(5)
  out.writeUInt32BE(length, 0)
  out[4] = format
  return out
}

const validFrame = fc.record({
  format: fc.constantFrom(1, 2, 3),
  payload: fc.oneof(
    fc.uint8Array({ maxLength: CAP }),
    // Lengths at the cap and just under it.
    fc.constantFrom(0, CAP - 1, CAP).chain((length) => fc.uint8Array({ minLength: length, maxLength: length }))
  )
}).map(({ format, payload }) => Buffer.concat([header(payload.length, format), payload]))
const fatalHeader = fc.oneof(
  fc.tuple(fc.integer({ min: CAP + 1, max: 0xffffffff }), fc.constantFrom(1, 2, 3)),
  fc.tuple(fc.nat({ max: CAP }), fc.oneof(fc.constant(0), fc.integer({ min: 4, max: 255 })))
).map(([length, format]) => header(length, format))
const frameStream = fc.tuple(
  fc.array(validFrame, { maxLength: 8 }),
  fc.option(fc.tuple(fatalHeader, fc.uint8Array({ maxLength: 40 }))),
  // A last frame cut short (the peer stopped mid-frame).
  fc.option(fc.tuple(validFrame, fc.nat()))
).map(([frames, fatal, partial]) => {
  const tail = partial === null ? [] : [partial[0].subarray(0, partial[1] % partial[0].length)]
  return Buffer.concat([...frames, ...(fatal === null ? tail : [fatal[0], Buffer.from(fatal[1])])])
})

/** What a FrameReader reports for `chunks`, and what it holds at the end. */
function readFrames (chunks: Buffer[]): unknown {
  const events: string[] = []
  const reader = new FrameReader(CAP, {
    onFrame: (format, payload) => { events.push(`frame ${format} ${payload.toString('hex')}`) },
    onFault: (err) => { events.push(`fault ${err.message}`) }
  })
  for (const chunk of chunks) reader.push(chunk)
  return { events, failed: reader.failed, pending: reader.pendingBytes }
}

t.test('frame reader: any chunking gives the frames and faults of one write', async (t) => {
  checkProperty(t, 'same frames', fc.property(frameStream, cutsArb(600), (bytes, cuts) => {
    deepStrictEqual(readFrames(chunksOf(bytes, cuts)), readFrames([bytes]))
  }), 1000)
  t.strictSame(readFrames([encodeFrame('x'.repeat(CAP)), header(CAP + 1, 1)]), { events: [`frame 1 ${'78'.repeat(CAP)}`, `fault Protocol error: frame length ${CAP + 1} exceeds the maximum of ${CAP} bytes`], failed: true, pending: 5 }, 'the cap is inclusive')
})
