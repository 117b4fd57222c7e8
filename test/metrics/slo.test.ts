import t, { type Test } from 'tap'
import Fastify from 'fastify'
import pywatt from '../../plugins/index.js'
import metrics, { type SloEvent } from '../../plugins/metrics.js'
import { FakeOrchestrator } from '../helpers/fake-orchestrator.js'
import { captureLogger } from '../helpers/log-capture.js'
import { find, parseSamples } from '../helpers/scrape.js'
import { sleep } from '../data/helpers.js'

async function boot (t: Test) {
  const orch = new FakeOrchestrator()
  const log = captureLogger()
  const app = Fastify({ loggerInstance: log.logger })
  t.after(() => app.close())
  orch.init()
  await app.register(pywatt, { io: orch.io })
  await app.register(metrics, {
    slo: {
      objectives: [
        { name: 'items', route: '/items/:id', method: 'GET', availability: 0.99 },
        { name: 'app', latency: { threshold: 1_000, target: 0.9 } }
      ],
      shortWindow: 1_000,
      longWindow: 3_000
    }
  })
  let fail = false
  app.get('/items/:id', async (_req, reply) => fail ? await reply.code(503).send({ down: true }) : { ok: true })
  app.get('/other', async () => 'x')
  await app.ready()
  return { app, log, setFail: (v: boolean) => { fail = v } }
}

t.test('an error burst on a route: one warning, one breach event, the metrics say so; then it recovers', async (t) => {
  const { app, log, setFail } = await boot(t)
  const events: Array<[string, SloEvent]> = []
  app.pywatt.slo?.on('breach', (e) => events.push(['breach', e]))
  app.pywatt.slo?.on('recover', (e) => events.push(['recover', e]))
  for (let i = 0; i < 20; i++) await app.inject('/items/1')
  for (let i = 0; i < 20; i++) await app.inject('/other')
  t.same(events, [], 'healthy traffic: nothing')

  setFail(true)
  for (let i = 0; i < 50; i++) await app.inject(`/items/${i}`)
  // Requests evaluate an objective at most once a second; a scrape evaluates at once.
  const samples = parseSamples((await app.inject('/metrics')).body)
  t.same(events.map((e) => e[0]), ['breach'], 'one breach for 50 failures')
  t.match(events[0]?.[1].status, { name: 'items:availability', target: 0.99, breached: true, breaches: 1 })
  const warnings = log.entries().filter((e) => e.level === 40 && /SLO items:availability/.test(e.msg))
  t.equal(warnings.length, 1, 'one warning per breach, not per request')

  t.equal(find(samples, 'pywatt_slo_breached', { slo: 'items:availability' })[0]?.value, 1)
  t.equal(find(samples, 'pywatt_slo_breaches_total', { slo: 'items:availability' })[0]?.value, 1)
  t.equal(find(samples, 'pywatt_slo_objective_ratio', { slo: 'items:availability' })[0]?.value, 0.99)
  // 50 bad of 70 in the budget window against 1 % allowed: remaining = 1 - 50 / 0.7.
  t.equal(find(samples, 'pywatt_slo_error_budget_remaining_ratio', { slo: 'items:availability' })[0]?.value.toFixed(4), (1 - 50 / 0.7).toFixed(4))
  t.ok((find(samples, 'pywatt_slo_burn_rate', { slo: 'items:availability', window: 'long' })[0]?.value ?? 0) > 14.4)
  t.equal(find(samples, 'pywatt_slo_breached', { slo: 'app:latency' })[0]?.value, 0, 'the latency objective is met')

  setFail(false)
  // The short window (1 s) empties; the next request or scrape notices.
  await sleep(1_100)
  await app.inject('/items/1')
  await app.inject('/metrics')
  t.same(events.map((e) => e[0]), ['breach', 'recover'])
  t.equal(find(parseSamples((await app.inject('/metrics')).body), 'pywatt_slo_breached', { slo: 'items:availability' })[0]?.value, 0)
})

t.test('without the slo option there are no SLO metrics and no fastify.pywatt.slo; bad windows are refused', async (t) => {
  const orch = new FakeOrchestrator()
  const app = Fastify()
  t.after(() => app.close())
  orch.init()
  await app.register(pywatt, { io: orch.io })
  await app.register(metrics)
  await app.ready()
  t.equal(app.pywatt.slo, undefined)
  t.same(parseSamples((await app.inject('/metrics')).body).filter((s) => s.name.startsWith('pywatt_slo_')), [])

  for (const [slo, re] of [
    [{ objectives: [{ name: 'x', availability: 1 }] }, /slo/],
    [{ objectives: [] }, /slo/],
    [{ objectives: [{ name: 'has space', availability: 0.9 }] }, /slo/],
    [{ objectives: [{ name: 'x', availability: 0.9 }], shortWindow: 5_000, longWindow: 5_000 }, /shortWindow \(5000 ms\) must be shorter than longWindow/]
  ] as const) {
    const other = Fastify()
    t.after(() => other.close())
    const o = new FakeOrchestrator()
    o.init()
    await other.register(pywatt, { io: o.io })
    await t.rejects(async () => { await other.register(metrics, { slo: slo as never }) }, { code: 'FST_PYWATT_INVALID_OPTIONS', message: re })
  }
})
