import t, { type Test } from 'tap'
import { PassThrough } from 'node:stream'
import { installStdoutGuard } from '../../lib/logging/stdout-guard.js'
import { registerSecret } from '../../lib/logging/registry.js'
import { captureLogger } from '../helpers/log-capture.js'

// The guard is never installed on the real process.stdout: tap reads it.

/** A fake stdout whose `write` is its own property. */
function ownWriteStdout () {
  const written: unknown[] = []
  const write = function (chunk: unknown): boolean {
    written.push(chunk)
    return true
  }
  const out = { write } as unknown as NodeJS.WriteStream
  return { out, write, written }
}

/** A fake stdout whose `write` is inherited from its prototype. */
class InheritedStdout {
  written: unknown[] = []
  write (chunk: unknown): boolean {
    this.written.push(chunk)
    return true
  }
}

const CONSOLE_METHODS = ['log', 'info', 'debug', 'dir', 'warn', 'error', 'trace'] as const

/** Restore the real console after the test, even if it fails. */
function saveConsole (t: Test): Record<string, unknown> {
  const saved: Record<string, unknown> = {}
  for (const m of CONSOLE_METHODS) saved[m] = console[m]
  t.after(() => {
    for (const m of CONSOLE_METHODS) (console as unknown as Record<string, unknown>)[m] = saved[m]
  })
  return saved
}

/** Install the guard on `out` and remove it when the test ends (if the test did not). */
function guard (t: Test, out: NodeJS.WriteStream, level = 'debug') {
  saveConsole(t)
  const capture = captureLogger(level)
  let removed = false
  const remove = installStdoutGuard(capture.logger, out)
  t.after(() => { if (!removed) remove() })
  const stray = () => capture.entries().filter((e) => e.source === 'stdout').map((e) => e.msg as string)
  return {
    ...capture,
    stray,
    remove: () => { removed = true; remove() }
  }
}

t.test('string and Buffer writes become log lines, never reach the real write', async (t) => {
  const { out, written } = ownWriteStdout()
  const g = guard(t, out)
  t.equal(out.write('plain string line\n'), true)
  t.equal(out.write(Buffer.from('buffer line ü€\n')), true)
  t.equal(out.write(new Uint8Array(Buffer.from('typed array line\n'))), true)
  // As on the real stream, a Buffer's bytes are taken as they are (the
  // encoding argument is for strings): a lone latin1 byte is not UTF-8.
  t.equal(out.write(Buffer.from('latin1 line \xe9\n', 'latin1'), 'latin1'), true)
  t.equal(out.write('6865782d656e636f64656420737472696e670a', 'hex'), true)
  const euro = Buffer.from('split character: 5€\n')
  out.write(euro.subarray(0, euro.length - 3))
  out.write(euro.subarray(euro.length - 3))
  t.same(g.stray(), ['plain string line', 'buffer line ü€', 'typed array line', 'latin1 line \ufffd', 'hex-encoded string', 'split character: 5€'])
  t.same(written, [], 'the original write was not called')
  for (const e of g.entries()) {
    t.equal(e.level, 30, 'stray output is logged at info')
    t.equal(e.source, 'stdout')
  }
})

t.test('partial lines are joined until a newline; several lines in one write', async (t) => {
  const { out } = ownWriteStdout()
  const g = guard(t, out)
  out.write('hel')
  out.write(Buffer.from('lo '))
  t.same(g.stray(), [], 'nothing until the newline')
  out.write('world\nsecond line\n\nthird')
  t.same(g.stray(), ['hello world', 'second line', ''])
  out.write(' part\nfourth\n')
  t.same(g.stray(), ['hello world', 'second line', '', 'third part', 'fourth'])
})

t.test('a partial line longer than 64 KiB is logged anyway', async (t) => {
  const { out } = ownWriteStdout()
  const g = guard(t, out)
  const limit = 64 * 1024
  out.write('x'.repeat(limit))
  t.same(g.stray(), [], 'exactly 64 KiB is kept')
  out.write('y')
  const lines = g.stray()
  t.equal(lines.length, 1, 'flushed once it is longer')
  t.equal(lines[0], 'x'.repeat(limit) + 'y')
  out.write('after\n')
  t.same(g.stray().slice(1), ['after'], 'the buffer started over')

  const big = 'z'.repeat(limit + 10)
  out.write(`head\n${big}`)
  t.same(g.stray().slice(2), ['head', big], 'the remainder after a newline is flushed too')
})

t.test('write callbacks are called, asynchronously, in both forms', async (t) => {
  const { out } = ownWriteStdout()
  const g = guard(t, out)
  const calls: string[] = []
  const done1 = new Promise<void>((resolve) => {
    out.write('with cb\n', () => { calls.push('cb'); resolve() })
  })
  const done2 = new Promise<void>((resolve) => {
    out.write('with enc and cb\n', 'utf8', () => { calls.push('enc+cb'); resolve() })
  })
  const done3 = new Promise<void>((resolve) => {
    out.write(Buffer.from('buffer with cb\n'), (err?: Error | null) => { calls.push(`buffer:${String(err)}`); resolve() })
  })
  t.same(calls, [], 'not called synchronously')
  await Promise.all([done1, done2, done3])
  t.same(calls, ['cb', 'enc+cb', 'buffer:undefined'])
  t.same(g.stray(), ['with cb', 'with enc and cb', 'buffer with cb'])
})

t.test('console methods are mapped to log levels', async (t) => {
  const { out, written } = ownWriteStdout()
  const g = guard(t, out)
  console.log('log %s %d', 'formatted', 42)
  console.info('info line')
  console.debug('debug line')
  console.dir({ a: 1, b: [2] })
  console.warn('warn line')
  console.error('error line', new Error('boom').message)
  console.trace('trace line')
  const entries = g.entries()
  t.same(entries.map((e) => [e.level, e.msg, e.source]), [
    [30, 'log formatted 42', 'console'],
    [30, 'info line', 'console'],
    [20, 'debug line', 'console'],
    [30, '{ a: 1, b: [ 2 ] }', 'console'],
    [40, 'warn line', 'console'],
    [50, 'error line boom', 'console'],
    [30, 'trace line', 'console']
  ])
  const trace = entries[6]
  t.type(trace.stack, 'string', 'trace carries a stack')
  t.match(trace.stack, /^Error: trace line\n\s+at /)
  for (const e of entries.slice(0, 6)) t.equal(e.stack, undefined, 'only trace carries a stack')
  t.same(written, [])
})

t.test('console lines below the logger level are dropped, not printed', async (t) => {
  const { out, written } = ownWriteStdout()
  const g = guard(t, out, 'warn')
  console.log('dropped info')
  console.debug('dropped debug')
  console.warn('kept warn')
  t.same(g.entries().map((e) => e.msg), ['kept warn'])
  t.same(written, [])
})

t.test('removing the guard restores an own write property and console', async (t) => {
  const { out, write, written } = ownWriteStdout()
  const before: Record<string, unknown> = {}
  for (const m of CONSOLE_METHODS) before[m] = console[m]
  const g = guard(t, out)
  t.not(out.write, write, 'write replaced')
  for (const m of CONSOLE_METHODS) t.not(console[m], before[m], `console.${m} replaced`)

  out.write('complete\npending partial')
  g.remove()
  t.same(g.stray(), ['complete', 'pending partial'], 'the partial line is flushed on removal')
  t.equal(out.write, write, 'the own write is back')
  t.ok(Object.prototype.hasOwnProperty.call(out, 'write'))
  for (const m of CONSOLE_METHODS) t.equal(console[m], before[m], `console.${m} restored`)

  out.write('direct again\n')
  t.same(written, ['direct again\n'], 'writes reach the original again')
  t.equal(g.stray().length, 2, 'and are no longer logged')
})

t.test('removing the guard deletes the write it added over an inherited one', async (t) => {
  const out = new InheritedStdout()
  const stdout = out as unknown as NodeJS.WriteStream
  t.notOk(Object.prototype.hasOwnProperty.call(out, 'write'))
  const g = guard(t, stdout)
  t.ok(Object.prototype.hasOwnProperty.call(out, 'write'), 'an own write shadows the prototype')
  stdout.write('guarded\n')
  t.same(out.written, [])
  g.remove()
  t.notOk(Object.prototype.hasOwnProperty.call(out, 'write'), 'the own property is gone')
  t.equal(out.write, InheritedStdout.prototype.write)
  out.write('through the prototype\n')
  t.same(out.written, ['through the prototype\n'])
  t.same(g.stray(), ['guarded'], 'nothing pending: nothing extra logged')
})

t.test('a PassThrough stream as stdout', async (t) => {
  const out = new PassThrough()
  const received: string[] = []
  out.on('data', (chunk: Buffer) => received.push(chunk.toString()))
  const g = guard(t, out as unknown as NodeJS.WriteStream)
  await new Promise<void>((resolve) => out.write('through the guard\n', () => resolve()))
  t.same(g.stray(), ['through the guard'])
  g.remove()
  t.notOk(Object.prototype.hasOwnProperty.call(out, 'write'))
  await new Promise<void>((resolve) => out.write('straight through\n', () => resolve()))
  t.same(received, ['straight through\n'], 'only the write after removal reached the stream')
})

t.test('stray lines are scrubbed like any log line', async (t) => {
  const { registerSecret } = await import('../../lib/logging/registry.js')
  const secret = 'stray-secret-token-123'
  registerSecret(secret)
  const { out } = ownWriteStdout()
  const g = guard(t, out)
  out.write(`token=${secret}\n`)
  console.error('console leaks %s', secret)
  t.notOk(g.lines.some((l) => l.includes(secret)), 'no line holds the secret')
  t.same(g.entries().map((e) => e.msg), ['token=[REDACTED]', 'console leaks [REDACTED]'])
})

// Last in the file: it registers a secret in the process-wide registry.
t.test('a secret split across the 64 KiB flush of a partial line is held back and scrubbed whole', async (t) => {
  const secret = 'straddle-secret-0123456789abcdef'
  registerSecret(secret)
  const { out } = ownWriteStdout()
  const g = guard(t, out)
  const limit = 64 * 1024
  // The first write pushes the partial line past the limit with only the secret's first half in it.
  out.write('a'.repeat(limit - 10) + secret.slice(0, 16))
  out.write(secret.slice(16) + ' tail\n')
  const text = g.stray().join('\n')
  t.notOk(text.includes(secret.slice(0, 16)), 'the first half did not go out with the flush')
  t.notOk(text.includes(secret.slice(16)), 'nor the second half with the line')
  t.match(text, /\[REDACTED\] tail$/)
  t.equal(text.length, limit - 10 + '[REDACTED] tail'.length + 1, 'nothing else was lost: two pieces, one newline between them')
})
