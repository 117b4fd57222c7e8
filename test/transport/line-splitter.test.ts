import t from 'tap'
import { LineSplitter, type LineFault } from '../../lib/transport/line-splitter.js'

function collect (max = 1024) {
  const lines: string[] = []
  const faults: LineFault[] = []
  const splitter = new LineSplitter(max, { onLine: (l) => lines.push(l), onFault: (f) => faults.push(f) })
  return { splitter, lines, faults }
}

// A small deterministic PRNG so a failing chunking can be replayed from its seed.
function prng (seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let x = Math.imul(s ^ (s >>> 15), 1 | s)
    x ^= x + Math.imul(x ^ (x >>> 7), 61 | x)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

const frames = [
  '{"op":"heartbeat"}',
  '{"op":"secret","name":"K","value":"é€𝄞 ünïcödé"}',
  '{"op":"secret","name":"L","value":"line\\u2028sep\\u2029par"}',
  '{"op":"a",\r"x":1}',
  '{"op":"secret","name":"E","value":"😀😀😀"}'
]
const wire = Buffer.from(frames.map((f) => f + '\n').join(''))

t.test('reassembles the same frames under any chunking', async (t) => {
  const seeds = [1, 2, 3, 42, 1337, 9001, 123456, 777, 31337, 65535]
  for (const seed of seeds) {
    const rand = prng(seed)
    const { splitter, lines, faults } = collect()
    let i = 0
    while (i < wire.length) {
      const size = 1 + Math.floor(rand() * 7)
      splitter.push(wire.subarray(i, i + size))
      i += size
    }
    t.same(lines, frames, `seed ${seed}`)
    t.same(faults, [], `seed ${seed}: no faults`)
  }
})

t.test('one byte at a time, including inside multi-byte characters', async (t) => {
  const { splitter, lines } = collect()
  for (let i = 0; i < wire.length; i++) splitter.push(wire.subarray(i, i + 1))
  t.same(lines, frames)
})

t.test('a bare CR is data, not a line break', async (t) => {
  const { splitter, lines } = collect()
  splitter.push(Buffer.from('{"op":"a",\r"x":1}\r\n'))
  t.same(lines, ['{"op":"a",\r"x":1}\r'], 'only \\n splits; the trailing \\r stays for JSON.parse to skip')
  t.same(JSON.parse(lines[0]), { op: 'a', x: 1 })
})

t.test('an over-long line is dropped, memory stays bounded, and the stream resynchronises', async (t) => {
  const { splitter, lines, faults } = collect(100)
  splitter.push(Buffer.from('{"ok":1}\n'))
  const big = Buffer.alloc(64, 0x61)
  for (let i = 0; i < 1000; i++) {
    splitter.push(big)
    t.ok(splitter.pendingBytes <= 100, 'never holds more than the cap')
  }
  t.ok(splitter.discarding)
  splitter.push(Buffer.from('tail\n{"ok":2}\n'))
  t.same(lines, ['{"ok":1}', '{"ok":2}'])
  t.same(faults, [{ kind: 'oversize', bytes: 64 * 1000 + 4, limit: 100 }])
})

t.test('a line just over the cap inside one chunk is reported', async (t) => {
  const { splitter, lines, faults } = collect(10)
  splitter.push(Buffer.from('0123456789\n01234567890\nok\n'))
  t.same(lines, ['0123456789', 'ok'], 'exactly the cap is accepted')
  t.same(faults, [{ kind: 'oversize', bytes: 11, limit: 10 }])
})

t.test('a line that crosses the cap while pending is dropped at its newline', async (t) => {
  const { splitter, lines, faults } = collect(10)
  splitter.push(Buffer.from('01234'))
  splitter.push(Buffer.from('567890123\nnext\n'))
  t.same(lines, ['next'])
  t.same(faults, [{ kind: 'oversize', bytes: 14, limit: 10 }])
})

t.test('invalid UTF-8 is a fault, never U+FFFD', async (t) => {
  const { splitter, lines, faults } = collect()
  splitter.push(Buffer.from([0x7b, 0xff, 0xfe, 0x7d, 0x0a]))
  splitter.push(Buffer.from('{}\n'))
  t.same(lines, ['{}'])
  t.same(faults, [{ kind: 'invalid-utf8', bytes: 4 }])
})

t.test('end() delivers a final line without a newline, or reports an oversize one', async (t) => {
  const a = collect()
  a.splitter.push(Buffer.from('{"op":"shutdown"}'))
  a.splitter.end()
  t.same(a.lines, ['{"op":"shutdown"}'])
  const b = collect(4)
  b.splitter.push(Buffer.from('0123456789'))
  b.splitter.end()
  t.same(b.faults, [{ kind: 'oversize', bytes: 10, limit: 4 }])
  const c = collect()
  c.splitter.end()
  t.same(c.lines, [])
})

t.test('the cap can change between lines (Init line, then the rest)', async (t) => {
  const { splitter, lines, faults } = collect(5)
  splitter.maxLineBytes = 20
  t.equal(splitter.maxLineBytes, 20)
  splitter.push(Buffer.from('0123456789\n'))
  t.same(lines, ['0123456789'])
  t.same(faults, [])
})
