import t from 'tap'
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { once } from 'node:events'
import { Writable } from 'node:stream'
import { StderrSink } from '../../lib/logging/stderr-sink.js'

/** A child that never reads its stdin: the pipe to it fills up and stays full. */
function deafReader (t: { after: (fn: () => unknown) => void }): ChildProcessWithoutNullStreams {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'])
  t.after(() => child.kill('SIGKILL'))
  return child
}

/** A child that closed its end of its stdin: writing to the pipe fails with EPIPE. */
async function goneReader (t: { after: (fn: () => unknown) => void }): Promise<ChildProcessWithoutNullStreams> {
  const child = spawn(process.execPath, ['-e', 'require("fs").closeSync(0); console.log("closed"); setTimeout(() => {}, 60_000)'])
  t.after(() => child.kill('SIGKILL'))
  await once(child.stdout, 'data')
  return child
}

function fdOf (stream: unknown): number {
  return (stream as { _handle: { fd: number } })._handle.fd
}

t.test('lines logged in one tick leave in one write, in order', async (t) => {
  const writes: string[] = []
  const stream = new Writable({ write (chunk: Buffer, _enc, cb) { writes.push(chunk.toString()); cb() } })
  const sink = new StderrSink({ stream })
  for (let i = 0; i < 100; i++) sink.write(`{"n":${i}}\n`)
  t.equal(writes.length, 0, 'nothing is written synchronously')
  t.ok(await sink.flush(1_000))
  t.equal(writes.length, 1, 'one write for the tick')
  t.same(writes[0].trimEnd().split('\n').map((l) => JSON.parse(l).n), Array.from({ length: 100 }, (_, i) => i))
  t.same(sink.stats, { written: 100, dropped: 0, deadReason: null })
})

t.test('a reader that is gone (EPIPE): the sink stops writing, drops and counts, never throws', async (t) => {
  const child = await goneReader(t)
  child.stdin.on('error', () => {})
  const sink = new StderrSink({ stream: child.stdin, fd: fdOf(child.stdin) })
  sink.write('{"a":1}\n')
  t.equal(await sink.flush(2_000), true, 'flush ends at once: nothing can be written any more')
  t.equal(sink.stats.deadReason, 'EPIPE')
  for (let i = 0; i < 1000; i++) sink.write('{"b":2}\n')
  sink.flushSync()
  t.equal(sink.stats.written, 0)
  t.equal(sink.stats.dropped, 1001, 'every line counted as dropped')
})

t.test('flushSync on a dead descriptor returns at once (pino would retry every 100 ms for ever)', async (t) => {
  const child = await goneReader(t)
  child.stdin.on('error', () => {})
  // The stream has not noticed yet: only the direct write at exit meets EPIPE.
  const sink = new StderrSink({ stream: new Writable({ write (_c, _e, cb) { cb() } }), fd: fdOf(child.stdin) })
  sink.write('{"last":"words"}\n')
  // A loop on EPIPE would never return: the test would time out.
  sink.flushSync()
  t.equal(sink.stats.deadReason, 'EPIPE')
  t.equal(sink.stats.dropped, 1)
})

t.test('a reader that never reads: writes never block, the backlog is capped, flushSync gives up in time', async (t) => {
  const child = deafReader(t)
  const sink = new StderrSink({ stream: child.stdin, fd: fdOf(child.stdin), maxBufferedBytes: 256 * 1024, exitFlushMs: 100 })
  const line = JSON.stringify({ msg: 'x'.repeat(1000) }) + '\n'
  const started = Date.now()
  for (let i = 0; i < 2000; i++) {
    sink.write(line)
    if (i % 100 === 99) await new Promise((resolve) => setImmediate(resolve))
  }
  t.ok(Date.now() - started < 5_000, 'two megabytes logged to a deaf reader without blocking')
  t.ok(sink.stats.dropped > 0, `${sink.stats.dropped} lines dropped past the cap`)
  t.ok(child.stdin.writableLength <= 256 * 1024, `the stream holds ${child.stdin.writableLength} bytes, within the cap`)
  t.equal(await sink.flush(100), false, 'flush reports what could not be written by its deadline')

  // A fresh sink on the same full pipe, at exit: retries for exitFlushMs, then drops.
  const exiting = new StderrSink({ stream: new Writable({ write (_c, _e, cb) { cb() } }), fd: fdOf(child.stdin), exitFlushMs: 100 })
  exiting.write(line)
  const t0 = Date.now()
  exiting.flushSync()
  const took = Date.now() - t0
  t.ok(took >= 90 && took < 1_000, `gave up after ${took} ms`)
  t.equal(exiting.stats.dropped, 1)
  t.equal(exiting.stats.deadReason, null, 'a full pipe is not a dead one')
})

t.test('flushSync writes the batch straight to the descriptor when the stream holds nothing', async (t) => {
  const child = spawn(process.execPath, ['-e', 'process.stdin.pipe(process.stdout)'])
  t.after(() => child.kill('SIGKILL'))
  let echoed = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { echoed += chunk })
  const sink = new StderrSink({ stream: child.stdin, fd: fdOf(child.stdin) })
  sink.write('{"exit":"line"}\n')
  sink.flushSync()
  t.same(sink.stats, { written: 1, dropped: 0, deadReason: null })
  child.stdin.end()
  await once(child.stdout, 'end')
  t.equal(echoed, '{"exit":"line"}\n')
})
