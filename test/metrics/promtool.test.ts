import t, { type Test } from 'tap'
import { spawnSync } from 'node:child_process'
import Fastify, { type FastifyInstance } from 'fastify'
import pywatt from '../../plugins/index.js'
import ipcHttp from '../../plugins/ipc-http.js'
import metrics from '../../plugins/metrics.js'
import { ChannelServer } from '../../lib/dev/channel-server.js'
import { FakeOrchestrator } from '../helpers/fake-orchestrator.js'
import { requireBinary } from '../helpers/binaries.js'
import { parseSamples } from '../helpers/scrape.js'

const promtool = requireBinary(t, 'promtool', 'Debian package prometheus: apt-get install prometheus')

/** An app with every family populated: HTTP over stdio and TCP, a 404, the cache, a channel. */
async function busyApp (t: Test, defaultMetrics: boolean): Promise<FastifyInstance> {
  const tcp = new ChannelServer({ kind: 'tcp' })
  await tcp.listen()
  t.after(() => tcp.close())
  const orch = new FakeOrchestrator()
  orch.init({ tcp_channel: { address: tcp.address, tls_enabled: false, required: true } })
  const app = Fastify()
  t.after(() => app.close())
  orch.serveSecrets({ API_KEY: 'k-1' })
  await app.register(pywatt, { io: orch.io, db: { url: 'sqlite::memory:' } })
  await app.register(ipcHttp)
  await app.register(metrics, { defaultMetrics, slo: { objectives: [{ name: 'items', route: '/items/:id', availability: 0.999, latency: { threshold: 250, target: 0.99 } }] } })
  app.get('/items/:id', async () => ({ ok: true }))
  await app.ready()
  await tcp.connected()
  await app.inject({ url: '/items/1' })
  await app.inject({ url: '/nowhere' })
  orch.send({ op: 'http_request', request_id: 'r', method: 'GET', uri: '/items/2', headers: {} })
  await orch.waitFor((l) => l.content?.request_id === 'r')
  await tcp.request({ method: 'GET', uri: '/items/3', headers: {} })
  await app.pywatt.cache.set('k', 'v')
  await app.pywatt.cache.get('k')
  // The observed families: a secret answered and one timed out, a rotation, db statements ok and failing, a heartbeat.
  await app.pywatt.secrets.fetch('API_KEY')
  await app.pywatt.secrets.fetch('NEVER', { timeout: 10 }).catch(() => {})
  orch.send({ op: 'rotated', keys: ['API_KEY'], rotation_id: 'rot-1' })
  orch.send({ op: 'heartbeat' })
  await orch.waitFor((l) => l.op === 'rotation_ack')
  await app.pywatt.db.query('SELECT 1')
  await app.pywatt.db.query('SELECT * FROM nothing_here').catch(() => {})
  return app
}

function check (text: string): { status: number | null, output: string } {
  const run = spawnSync(promtool as string, ['check', 'metrics'], { input: text, encoding: 'utf8' })
  return { status: run.status, output: `${run.stdout}${run.stderr}` }
}

if (promtool !== null) {
  t.test('promtool check metrics: the scrape parses and our metrics have no lint problem', async (t) => {
    const app = await busyApp(t, false)
    const text = (await app.inject({ url: '/metrics' })).body
    const samples = parseSamples(text)
    t.ok(samples.length > 50, 'a real scrape, not an empty one (which promtool accepts)')
    for (const name of ['pywatt_messages_received_total', 'pywatt_messages_sent_total', 'pywatt_secret_request_duration_seconds_count', 'pywatt_secret_rotations_total', 'pywatt_db_query_duration_seconds_count']) {
      t.ok(samples.some((s) => s.name === name), `${name} is populated`)
    }
    const { status, output } = check(text)
    t.equal(output.trim(), '', 'no problem reported')
    t.equal(status, 0)
    t.not(check('foo{ 1\n').status, 0, 'promtool does fail a broken exposition')
  })

  t.test('promtool check metrics with prom-client default metrics: it parses; the only lint problems are prom-client gauges named _total', async (t) => {
    const app = await busyApp(t, true)
    const { status, output } = check((await app.inject({ url: '/metrics' })).body)
    t.not(status, 1, 'no parse error')
    const problems = output.trim().split('\n').filter((l) => l !== '')
    t.same(problems.filter((l) => !/^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/.test(l)), [],
      'nothing of ours (prom-client 15 names three gauges *_total)')
  })
}
