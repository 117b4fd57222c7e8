import t from 'tap'
import Fastify from 'fastify'
import pywatt from '../../plugins/index.js'
import { StartupBudget, STARTUP_MARGIN_MS } from '../../lib/runtime/startup-budget.js'
import { EXIT } from '../../lib/lifecycle/exit-codes.js'
import { FakeOrchestrator } from '../helpers/fake-orchestrator.js'
import { captureLogger } from '../helpers/log-capture.js'
import { HOSTILE, startModule } from '../helpers/modules.js'

t.test('StartupBudget: every wait ends before Fastify\'s pluginTimeout', async (t) => {
  const now = Date.now()
  const budget = new StartupBudget(10_000, now)
  t.ok(budget.clamp(30_000) <= 10_000 - STARTUP_MARGIN_MS, 'a 30 s wait is cut')
  t.equal(budget.clamp(2_000), 2_000, 'a shorter one is kept')
  t.equal(budget.cuts(30_000), true)
  t.equal(budget.cuts(2_000), false)
  t.equal(new StartupBudget(0).clamp(30_000), 30_000, 'pluginTimeout 0: no budget')
  t.ok(new StartupBudget(600).clamp(30_000) > 250, 'a tiny pluginTimeout keeps half of it')
  t.equal(new StartupBudget(1_000, now - 5_000).clamp(30_000), 1, 'never zero or negative')
})

for (const [what, answerInit] of [['a startup secret that never comes', true], ['an Init line that never comes', false]] as const) {
  t.test(`${what}: the plugin's own refusal (exit 2) comes before avvio's timeout`, async (t) => {
    const orch = new FakeOrchestrator()
    const log = captureLogger()
    const app = Fastify({ loggerInstance: log.logger, pluginTimeout: 1_500 })
    t.after(() => app.close())
    if (answerInit) orch.init()
    const started = Date.now()
    await t.rejects(async () => { await app.register(pywatt, { io: orch.io, secrets: ['NEVER_SENT'] }) }, { code: 'FST_PYWATT_INIT' })
    t.ok(Date.now() - started < 1_500, `refused after ${Date.now() - started} ms`)
    t.same(orch.exits, [EXIT.REFUSED])
    const fatal = log.entries().find((e) => e.level === 60)
    t.equal(fatal?.pluginTimeout, 1_500, 'the fatal line names pluginTimeout')
    t.match(fatal?.hint, /raise it to wait longer/)
  })
}

t.test('a secret wait shorter than the budget is not cut and gets no hint', async (t) => {
  const orch = new FakeOrchestrator()
  const log = captureLogger()
  const app = Fastify({ loggerInstance: log.logger, pluginTimeout: 5_000 })
  t.after(() => app.close())
  orch.init()
  await t.rejects(async () => { await app.register(pywatt, { io: orch.io, secrets: ['NEVER_SENT'], secretTimeout: 200 }) }, { code: 'FST_PYWATT_INIT', message: /after 200 ms/ })
  const fatal = log.entries().find((e) => e.level === 60)
  t.equal(fatal?.hint, undefined)
})

t.test('with every default, a missing startup secret refuses the start: exit 2, one JSON fatal line', async (t) => {
  const { dev, stderr } = await startModule(t, HOSTILE, { secrets: {} })
  const exit = await dev.waitForExit(15_000)
  t.same(exit, { code: EXIT.REFUSED, signal: null })
  const entries = stderr.map((l) => JSON.parse(l) as { level: number, msg: string, err?: { code: string } })
  const fatal = entries.filter((e) => e.level === 60)
  t.equal(fatal.length, 1)
  t.equal(fatal[0]?.msg, 'refusing to start: a startup secret is unavailable')
  t.equal(fatal[0]?.err?.code, 'FST_PYWATT_SECRET_TIMEOUT')
})
