import t, { type Test } from 'tap'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import { Counter, Registry, register as globalRegister } from 'prom-client'
import pywatt from '../../plugins/index.js'
import ipcHttp from '../../plugins/ipc-http.js'
import routeDiscovery from '../../plugins/route-discovery.js'
import jwt from '../../plugins/jwt.js'
import metrics, { type PyWattMetricsOptions } from '../../plugins/metrics.js'
import { ChannelServer } from '../../lib/dev/channel-server.js'
import { FakeOrchestrator, type Line } from '../helpers/fake-orchestrator.js'
import { captureLogger } from '../helpers/log-capture.js'
import { find, parseSamples, type Sample } from '../helpers/scrape.js'

interface BootOptions {
  metrics?: PyWattMetricsOptions
  dispatcher?: 'lean' | 'inject'
  secrets?: Record<string, string>
  init?: Record<string, unknown>
  before?: (app: FastifyInstance) => Promise<void>
}

async function boot (t: Test, opts: BootOptions = {}, routes?: (app: FastifyInstance) => void) {
  const orch = new FakeOrchestrator()
  const log = captureLogger()
  const app = Fastify({ loggerInstance: log.logger })
  t.after(() => app.close())
  orch.init({ module_id: 'metrics-test', ...opts.init })
  if (opts.secrets !== undefined) orch.serveSecrets(opts.secrets)
  await app.register(pywatt, { io: orch.io })
  await opts.before?.(app)
  await app.register(ipcHttp, { dispatcher: opts.dispatcher ?? 'lean' })
  await app.register(metrics, opts.metrics ?? {})
  routes?.(app)
  await app.ready()
  return { orch, log, app }
}

async function scrape (app: FastifyInstance, headers: Record<string, string> = {}): Promise<Sample[]> {
  const res = await app.inject({ url: '/metrics', headers })
  if (res.statusCode !== 200) throw new Error(`scrape answered ${res.statusCode}`)
  return parseSamples(res.body)
}

async function tunnel (orch: FakeOrchestrator, id: string, uri: string, method = 'GET'): Promise<Line> {
  orch.send({ op: 'http_request', request_id: id, method, uri, headers: {} })
  return await orch.waitFor((l) => l.content?.request_id === id)
}

const requests = (samples: Sample[], labels: Record<string, string>): number =>
  find(samples, 'http_requests_total', labels).reduce((n, s) => n + s.value, 0)

t.test('HTTP series: the route pattern, method, status code and transport; the histogram has the same labels; 404s are unmatched', async (t) => {
  const { app } = await boot(t, {}, (app) => {
    app.get('/items/:id', async (req) => ({ id: (req.params as { id: string }).id }))
    app.post('/items', async (_req, reply) => reply.code(201).send({ ok: true }))
  })
  for (const id of ['1', '2', '3']) t.equal((await app.inject({ url: `/items/${id}` })).statusCode, 200)
  await app.inject({ method: 'POST', url: '/items', payload: {} })
  t.equal((await app.inject({ url: '/nope/at/all' })).statusCode, 404)
  const samples = await scrape(app)
  t.same(find(samples, 'http_requests_total', { route: '/items/:id' }).map((s) => [s.labels, s.value]),
    [[{ method: 'GET', route: '/items/:id', status_code: '200', transport: 'http' }, 3]], 'one series for three ids')
  t.equal(requests(samples, { method: 'POST', route: '/items', status_code: '201', transport: 'http' }), 1)
  t.equal(requests(samples, { method: 'GET', route: 'unmatched', status_code: '404', transport: 'http' }), 1)
  t.same(find(samples, 'http_requests_total').filter((s) => s.labels.route?.startsWith('/nope')), [], 'the raw URL is never a label')
  const count = find(samples, 'http_request_duration_seconds_count', { method: 'GET', route: '/items/:id', status_code: '200', transport: 'http' })
  t.equal(count.length, 1)
  t.equal(count[0]?.value, 3)
  const inf = find(samples, 'http_request_duration_seconds_bucket', { route: '/items/:id', le: '+Inf' })
  t.equal(inf[0]?.value, 3)
  const sum = find(samples, 'http_request_duration_seconds_sum', { route: '/items/:id' })[0]?.value ?? -1
  t.ok(sum > 0 && sum < 5, `the duration is in seconds (${sum})`)
})

for (const dispatcher of ['lean', 'inject'] as const) {
  t.test(`${dispatcher} dispatcher: a request tunnelled over stdio is labelled transport="stdio", a plain one "http"; request.pywattTransport says the same`, async (t) => {
    const { orch, app } = await boot(t, { dispatcher }, (app) => {
      app.get('/where', async (req) => ({ transport: req.pywattTransport }))
    })
    const line = await tunnel(orch, 'r-1', '/where')
    t.same(JSON.parse(Buffer.from(line.content.body as number[]).toString()), { transport: 'stdio' })
    t.same((await app.inject({ url: '/where' })).json(), { transport: 'http' })
    await tunnel(orch, 'r-2', '/missing')
    const samples = await scrape(app)
    t.equal(requests(samples, { route: '/where', transport: 'stdio', status_code: '200' }), 1)
    t.equal(requests(samples, { route: '/where', transport: 'http', status_code: '200' }), 1)
    t.equal(requests(samples, { route: 'unmatched', transport: 'stdio', status_code: '404' }), 1)
    t.equal(find(samples, 'pywatt_ipc_http_requests_total', { outcome: 'served' })[0]?.value, 2)
  })
}

t.test('requests on the TCP channel are labelled tcp, on the Unix-socket (ipc) channel unix; each channel has its counters', async (t) => {
  const tcp = new ChannelServer({ kind: 'tcp' })
  await tcp.listen()
  const ipc = new ChannelServer({ kind: 'unix', path: join(mkdtempSync(join(tmpdir(), 'pw-m-')), 'p.sock') })
  await ipc.listen()
  t.after(async () => { await tcp.close(); await ipc.close() })
  const { app } = await boot(t, {
    init: {
      tcp_channel: { address: tcp.address, tls_enabled: false, required: true },
      ipc_channel: { socket_path: ipc.address, required: true }
    }
  }, (app) => {
    app.get('/where', async (req) => ({ transport: req.pywattTransport }))
  })
  await Promise.all([tcp.connected(), ipc.connected()])
  const viaTcp = await tcp.request({ method: 'GET', uri: '/where', headers: {} })
  t.same(JSON.parse(Buffer.from(viaTcp.body ?? []).toString()), { transport: 'tcp' })
  const viaIpc = await ipc.request({ method: 'GET', uri: '/where', headers: {} })
  t.same(JSON.parse(Buffer.from(viaIpc.body ?? []).toString()), { transport: 'unix' })
  const samples = await scrape(app)
  t.equal(requests(samples, { route: '/where', transport: 'tcp' }), 1)
  t.equal(requests(samples, { route: '/where', transport: 'unix' }), 1)
  t.equal(find(samples, 'pywatt_channel_up', { channel: 'tcp' })[0]?.value, 1)
  t.equal(find(samples, 'pywatt_channel_up', { channel: 'unix' })[0]?.value, 1)
  t.ok((find(samples, 'pywatt_channel_frames_received_total', { channel: 'tcp' })[0]?.value ?? 0) >= 1)
  t.ok((find(samples, 'pywatt_channel_sent_bytes_total', { channel: 'unix' })[0]?.value ?? 0) > 0)
  t.equal(find(samples, 'pywatt_channel_connects_total', { channel: 'tcp' })[0]?.value, 1)
  t.same(find(samples, 'pywatt_channel_state', { channel: 'tcp' }).filter((s) => s.value === 1).map((s) => s.labels.state), ['connected'])
  t.same(find(samples, 'pywatt_channel_breaker_state', { channel: 'unix' }).filter((s) => s.value === 1).map((s) => s.labels.state), ['closed'])
  t.equal(find(samples, 'pywatt_channel_state', { channel: 'ipc' }).length, 0, 'the ipc channel is named unix')
})

t.test('cardinality: 1 000 ids, 1 000 unmatched paths and made-up methods do not add series', async (t) => {
  const { orch, app } = await boot(t, {}, (app) => {
    app.get('/items/:id', async () => ({ ok: true }))
  })
  const drive = async (from: number, to: number): Promise<void> => {
    for (let i = from; i < to; i++) {
      await app.inject({ url: `/items/${i}` })
      await app.inject({ url: `/unknown/${i}?q=${i}` })
    }
    // Over IPC any upper-case token is a method: Fastify answers 404 before any hook, so none is a label.
    for (let i = from; i < to; i += 100) await tunnel(orch, `m-${i}`, `/x/${i}`, `METHOD${i}`)
  }
  const seriesCount = (samples: Sample[]): number =>
    samples.filter((s) => s.name.startsWith('http_request')).length
  await drive(0, 10)
  const few = await scrape(app)
  await drive(10, 1000)
  const many = await scrape(app)
  const scrapeRoute = (s: Sample): boolean => s.labels.route === '/metrics'
  t.equal(seriesCount(many.filter((s) => !scrapeRoute(s))), seriesCount(few.filter((s) => !scrapeRoute(s))), 'the same series after 100× the distinct URLs')
  t.equal(requests(many, { route: '/items/:id' }), 1000)
  t.equal(requests(many, { route: 'unmatched', method: 'GET' }), 1000)
  t.same(find(many, 'http_requests_total').filter((s) => s.labels.method?.startsWith('METHOD')), [], 'made-up methods are no label')
  t.same([...new Set(find(many, 'http_requests_total').map((s) => s.labels.route))].sort(), ['/items/:id', '/metrics', 'unmatched'])
})

t.test('bearerToken as a string: 401 with WWW-Authenticate without it or with another, 200 with it', async (t) => {
  const { app } = await boot(t, { metrics: { bearerToken: 'scrape-token-1' } })
  const none = await app.inject({ url: '/metrics' })
  t.equal(none.statusCode, 401)
  t.equal(none.headers['www-authenticate'], 'Bearer')
  t.notMatch(none.body, /http_requests_total/)
  t.equal((await app.inject({ url: '/metrics', headers: { authorization: 'Bearer scrape-token-2' } })).statusCode, 401)
  t.equal((await app.inject({ url: '/metrics', headers: { authorization: 'Basic scrape-token-1' } })).statusCode, 401)
  const ok = await app.inject({ url: '/metrics', headers: { authorization: 'bearer scrape-token-1' } })
  t.equal(ok.statusCode, 200)
  t.match(ok.body, /# TYPE http_requests_total counter/)
})

t.test('bearerToken from a secret: fetched at start, follows a new value', async (t) => {
  const { orch, app } = await boot(t, { metrics: { bearerToken: { secret: 'METRICS_TOKEN' } }, secrets: { METRICS_TOKEN: 'first-token' } })
  t.ok(orch.ops('get_secret').some((l) => l.name === 'METRICS_TOKEN'))
  t.equal((await app.inject({ url: '/metrics', headers: { authorization: 'Bearer first-token' } })).statusCode, 200)
  orch.send({ op: 'secret', name: 'METRICS_TOKEN', value: 'second-token' })
  for (let i = 0; i < 100 && app.pywatt.secrets.peek('METRICS_TOKEN') !== 'second-token'; i++) await new Promise((resolve) => setTimeout(resolve, 10))
  t.equal((await app.inject({ url: '/metrics', headers: { authorization: 'Bearer first-token' } })).statusCode, 401, 'the old token no longer works')
  t.equal((await app.inject({ url: '/metrics', headers: { authorization: 'Bearer second-token' } })).statusCode, 200)
})

t.test('OpenMetrics when the Accept header asks for it; Prometheus text otherwise', async (t) => {
  const { app } = await boot(t, {}, (app) => { app.get('/a', async () => 'a') })
  await app.inject({ url: '/a' })
  const plain = await app.inject({ url: '/metrics' })
  t.equal(plain.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8')
  t.notMatch(plain.body, /# EOF/)
  t.match(plain.body, /^# TYPE http_requests_total counter$/m)
  const open = await app.inject({ url: '/metrics', headers: { accept: 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1' } })
  t.equal(open.headers['content-type'], 'application/openmetrics-text; version=1.0.0; charset=utf-8')
  t.match(open.body, /\n# EOF\n$/)
  t.match(open.body, /^# TYPE http_requests counter$/m, 'a counter family is named without _total')
  t.match(open.body, /^http_requests_total\{method="GET",route="\/a",status_code="200",transport="http"\} 1$/m)
  const again = await app.inject({ url: '/metrics' })
  t.match(again.body, /^# TYPE http_requests_total counter$/m, 'an OpenMetrics scrape does not rename counters for the next text scrape')
  const preferText = await app.inject({ url: '/metrics', headers: { accept: 'text/plain;version=0.0.4,application/openmetrics-text;q=0.5' } })
  t.equal(preferText.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8', 'the weights decide')
})

t.test('the route is announced (with and without route discovery) and not JWT-protected, with jwt registered', async (t) => {
  const secrets = { JWT_SECRET: 'a-jwt-secret-of-some-length-0123456789' }
  const { app } = await boot(t, {
    secrets,
    metrics: { path: '/internal/metrics' },
    before: async (app) => {
      await app.register(routeDiscovery)
      await app.register(jwt)
    }
  }, (app) => {
    app.get('/private', { config: { pywatt: { auth: 'jwt' } } }, async () => 'secret')
    app.get('/guarded', { onRequest: app.pywatt.jwt?.authenticate }, async () => 'secret')
  })
  t.equal((await app.inject({ url: '/private' })).statusCode, 401, 'jwt is active')
  t.equal((await app.inject({ url: '/internal/metrics' })).statusCode, 200, 'the scrape needs no token')
  t.equal((await app.inject({ url: '/metrics' })).statusCode, 404, 'the path option moves it')
  const endpoints = app.pywatt.endpoints()
  t.same(endpoints.find((e) => e.path === '/internal/metrics'), { path: '/internal/metrics', methods: ['GET'] }, 'announced, without auth')
  t.same(endpoints.filter((e) => e.auth === 'jwt').map((e) => e.path), ['/guarded', '/private'])

  const plain = await boot(t)
  t.same(plain.app.pywatt.endpoints(), [{ path: '/health', methods: ['GET'] }, { path: '/metrics', methods: ['GET'] }, { path: '/ready', methods: ['GET'] }], 'without route discovery, like the probe routes')
})

t.test('protocol, HTTP-over-IPC, cache and secret metrics come from the counters the module keeps', async (t) => {
  const { orch, app } = await boot(t, {}, (app) => {
    app.get('/ok', async () => 'ok')
  })
  await tunnel(orch, 'p-1', '/ok')
  orch.write('{"op":"http_request",')
  orch.write('')
  orch.send({ op: 'secret', name: 'NOBODY_ASKED', value: 'x' })
  const { cache } = app.pywatt
  await cache.set('k', 'v')
  await cache.get('k')
  await cache.get('absent')
  await cache.delete('k')
  await new Promise((resolve) => setTimeout(resolve, 20))
  const samples = await scrape(app)
  const value = (name: string, labels: Record<string, string> = {}): number | undefined => find(samples, name, labels)[0]?.value
  t.equal(value('pywatt_module_info', { module_id: 'metrics-test' }), 1)
  t.equal(value('pywatt_channel_up', { channel: 'stdio' }), 1)
  t.equal(value('pywatt_channel_frames_received_total', { channel: 'stdio' }), app.pywatt.channel?.stats.lines)
  t.ok((value('pywatt_channel_frames_received_total', { channel: 'stdio' }) ?? 0) >= 4)
  t.equal(value('pywatt_channel_malformed_frames_total', { channel: 'stdio' }), 1)
  t.equal(value('pywatt_stdio_lines_rejected_total', { reason: 'empty' }), 1)
  t.equal(value('pywatt_channel_frames_sent_total', { channel: 'stdio' }), app.pywatt.channel?.writer.stats.lines)
  t.ok((value('pywatt_channel_sent_bytes_total', { channel: 'stdio' }) ?? 0) > 0)
  t.equal(value('pywatt_ipc_http_requests_total', { outcome: 'served' }), 1)
  t.equal(value('pywatt_ipc_http_requests_in_flight'), 0)
  t.equal(value('pywatt_ipc_http_requests_queued'), 0)
  t.equal(value('pywatt_cache_hits_total', { backend: 'memory' }), 1)
  t.equal(value('pywatt_cache_misses_total', { backend: 'memory' }), 1)
  t.equal(value('pywatt_cache_sets_total', { backend: 'memory' }), 1)
  t.equal(value('pywatt_cache_deletes_total', { backend: 'memory' }), 1)
  t.equal(value('pywatt_secrets_ignored_unsolicited_total'), 1)
  t.equal(find(samples, 'pywatt_channel_up', { channel: 'tcp' }).length, 0, 'no series for a channel the Init blob did not offer')
})

t.test('options: defaults, defaultMetrics: false, an unknown key, a bad registry', async (t) => {
  const withDefaults = await boot(t)
  t.ok(find(await scrape(withDefaults.app), 'process_cpu_user_seconds_total').length === 1, 'process metrics by default')
  const without = await boot(t, { metrics: { defaultMetrics: false } })
  const samples = await scrape(without.app)
  t.equal(samples.filter((s) => s.name.startsWith('process_') || s.name.startsWith('nodejs_')).length, 0)
  t.ok(without.app.pywatt.metrics?.registry instanceof Registry, 'an own registry, exposed')

  for (const bad of [{ nope: 1 }, { path: 'metrics' }, { bearerToken: '' }, { bearerToken: { secret: 'X', extra: 1 } }, { buckets: [] }, { buckets: [0.5, 2, 0.5] }, { registry: {} }]) {
    const orch = new FakeOrchestrator()
    const app = Fastify()
    t.after(() => app.close())
    orch.init()
    await app.register(pywatt, { io: orch.io })
    await t.rejects(async () => { await app.register(metrics, bad as PyWattMetricsOptions) }, { code: 'FST_PYWATT_INVALID_OPTIONS' }, JSON.stringify(bad))
  }
})

t.test('buckets: the histogram uses the given bounds', async (t) => {
  const { app } = await boot(t, { metrics: { buckets: [0.5, 2] } }, (app) => { app.get('/b', async () => 'b') })
  await app.inject({ url: '/b' })
  t.same(find(await scrape(app), 'http_request_duration_seconds_bucket', { route: '/b' }).map((s) => s.labels.le), ['0.5', '2', '+Inf'])
})

t.test("registry: prom-client's global register exposes the app's own metrics; closing gives the names back", async (t) => {
  const mine = new Counter({ name: 'app_widgets_total', help: 'Widgets.', registers: [globalRegister] })
  t.after(() => globalRegister.removeSingleMetric('app_widgets_total'))
  mine.inc(7)
  const first = await boot(t, { metrics: { registry: globalRegister } })
  t.equal(find(await scrape(first.app), 'app_widgets_total')[0]?.value, 7)
  const orch = new FakeOrchestrator()
  const twice = Fastify()
  t.after(() => twice.close())
  orch.init()
  await twice.register(pywatt, { io: orch.io })
  await t.rejects(async () => { await twice.register(metrics, { registry: globalRegister }) }, { code: 'FST_PYWATT_INVALID_OPTIONS', message: /already holds http_requests_total/ })
  await first.app.close()
  t.equal(globalRegister.getSingleMetric('http_requests_total'), undefined, 'removed on close')
  t.equal(globalRegister.getSingleMetric('pywatt_channel_up'), undefined)
  const again = await boot(t, { metrics: { registry: globalRegister } })
  t.equal(find(await scrape(again.app), 'app_widgets_total')[0]?.value, 7, 'a new app can register on it')
})
