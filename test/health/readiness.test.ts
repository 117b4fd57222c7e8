import t from 'tap'
import { Readiness } from '../../lib/health/readiness.js'

t.test('a round is reused for cacheTtl, shared by concurrent probes, then run again', async (t) => {
  let runs = 0
  const readiness = new Readiness([{ name: 'db', check: async () => { runs++ } }], [], { cacheTtl: 1_000, timeout: 500 })
  const reports = await Promise.all(Array.from({ length: 50 }, () => readiness.report(10_000)))
  t.equal(runs, 1, '50 probes at once: one check')
  t.ok(reports.every((r) => r.ready))
  await readiness.report(10_999)
  t.equal(runs, 1, 'inside the ttl: reused')
  await readiness.report(11_000)
  t.equal(runs, 2, 'past the ttl: run again')
})

t.test('live checks run on every probe; a failing one makes the module not ready', async (t) => {
  let draining = false
  let runs = 0
  const readiness = new Readiness([], [{ name: 'draining', check: () => { runs++; if (draining) throw new Error('the module is stopping') } }], { cacheTtl: 60_000, timeout: 500 })
  t.same(await readiness.report(), { ready: true, checks: [{ name: 'draining', ok: true }] })
  draining = true
  t.same(await readiness.report(), { ready: false, checks: [{ name: 'draining', ok: false, error: 'the module is stopping' }] })
  t.equal(runs, 2)
})

t.test('a check that never answers fails at its timeout, and does not hold the others', async (t) => {
  const readiness = new Readiness([
    { name: 'hung', check: () => new Promise<void>(() => {}) },
    { name: 'fine', check: async () => {} },
    { name: 'thrower', check: () => { throw new TypeError('bad') } }
  ], [], { cacheTtl: 0, timeout: 100 })
  const started = Date.now()
  const report = await readiness.report()
  t.ok(Date.now() - started < 2_000, 'answered at the timeout')
  t.same(report, {
    ready: false,
    checks: [
      { name: 'hung', ok: false, error: 'no answer within 100 ms' },
      { name: 'fine', ok: true },
      { name: 'thrower', ok: false, error: 'bad' }
    ]
  })
})
