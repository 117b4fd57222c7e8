import t, { type Test } from 'tap'
import Fastify from 'fastify'
import pywatt from '../../plugins/index.js'
import routeDiscovery from '../../plugins/route-discovery.js'
import ipcHttp from '../../plugins/ipc-http.js'
import jwt from '../../plugins/jwt.js'
import { ChannelServer } from '../../lib/dev/channel-server.js'
import { FakeOrchestrator, until } from '../helpers/fake-orchestrator.js'
import { TcpProxy } from '../helpers/tcp-proxy.js'
import { requireServer, sleep } from '../data/helpers.js'

function setup (t: Test, init: Record<string, unknown> = {}) {
  const orch = new FakeOrchestrator()
  const app = Fastify()
  t.after(() => app.close())
  orch.init(init)
  return { orch, app }
}

function busy (ms: number): void {
  const end = Date.now() + ms
  while (Date.now() < end) { /* the event loop is stalled on purpose */ }
}

t.test('/ready: 200 naming each check; /health carries the build; both announced, neither behind JWT', async (t) => {
  const { orch, app } = setup(t)
  orch.serveSecrets({ API_KEY: 'the-api-key', JWT_SECRET: 'the-jwt-secret-0123456789abcdef' })
  await app.register(pywatt, { io: orch.io, secrets: ['API_KEY'], buildInfo: { name: 'notes', version: '1.2.3', gitCommit: 'abc1234', buildTime: '2026-12-01T10:00:00Z' } })
  await app.register(routeDiscovery)
  await app.register(jwt)
  app.get('/private', { config: { pywatt: { auth: 'jwt' } } }, async () => 'x')
  await app.ready()
  t.equal((await app.inject('/private')).statusCode, 401, 'jwt protects what it should')
  const ready = await app.inject('/ready')
  t.equal(ready.statusCode, 200)
  t.same(ready.json(), { status: 'ready', checks: {} }, 'nothing that can fail while serving is configured')
  const health = await app.inject('/health')
  t.equal(health.statusCode, 200)
  t.match(health.json(), { status: 'OK', version: '1.2.3', git: 'abc1234', time: '2026-12-01T10:00:00Z', node: process.version })
  t.match(app.pywatt.build, { name: 'notes', version: '1.2.3', gitCommitFull: 'unknown', gitDirty: 'unknown' })
  t.same(app.pywatt.endpoints().filter((e) => e.path !== '/private'), [{ path: '/health', methods: ['GET'] }, { path: '/ready', methods: ['GET'] }])
})

t.test('/ready over stdio answers like over HTTP', async (t) => {
  const { orch, app } = setup(t)
  await app.register(pywatt, { io: orch.io, exitOnStop: false })
  await app.register(ipcHttp)
  await app.ready()
  orch.send({ op: 'http_request', request_id: 'r1', method: 'GET', uri: '/ready', headers: {} })
  const reply = await orch.waitFor((l) => l.content?.request_id === 'r1')
  t.equal(reply.content.status_code, 200)
  t.same(JSON.parse(Buffer.from(reply.content.body as number[]).toString()), (await app.inject('/ready')).json())
})

t.test('a database that goes away: /ready 503 naming db, 200 once it is back', async (t) => {
  if (!await requireServer(t, 'PostgreSQL', '127.0.0.1', 5432)) return
  const proxy = new TcpProxy('127.0.0.1', 5432)
  await proxy.start()
  t.after(() => proxy.close())
  const { orch, app } = setup(t)
  await app.register(pywatt, { io: orch.io, db: { url: `postgres://postgres@127.0.0.1:${proxy.port}/test`, pool: { acquireTimeout: 1_000 } }, cache: { url: 'memory:' }, ready: { cacheTtl: 0, checkTimeout: 1_500 } })
  const before = await app.inject('/ready')
  t.equal(before.statusCode, 200)
  t.same(before.json().checks.db, { ok: true })
  t.notOk('cache' in before.json().checks, 'the in-memory cache is not probed')
  await proxy.cut()
  const during = await app.inject('/ready')
  t.equal(during.statusCode, 503)
  t.match(during.json(), { status: 'not ready', checks: { db: { ok: false, error: /\S/ } } })
  await proxy.restore()
  let after = await app.inject('/ready')
  for (let i = 0; i < 50 && after.statusCode !== 200; i++) {
    await sleep(100)
    after = await app.inject('/ready')
  }
  t.equal(after.statusCode, 200, 'ready again once the database answers')
})

t.test('a cache server that goes away: /ready 503 naming cache', async (t) => {
  if (!await requireServer(t, 'Redis', '127.0.0.1', 6379)) return
  const proxy = new TcpProxy('127.0.0.1', 6379)
  await proxy.start()
  t.after(() => proxy.close())
  const { orch, app } = setup(t)
  await app.register(pywatt, { io: orch.io, db: false, cache: { url: `redis://127.0.0.1:${proxy.port}`, commandTimeout: 500 }, ready: { cacheTtl: 0, checkTimeout: 1_000 } })
  t.equal((await app.inject('/ready')).statusCode, 200)
  await proxy.cut()
  const during = await app.inject('/ready')
  t.equal(during.statusCode, 503)
  t.match(during.json(), { checks: { cache: { ok: false } } })
})

t.test('probes are cached: a storm of 200 probes reaches the database once per cacheTtl', async (t) => {
  if (!await requireServer(t, 'PostgreSQL', '127.0.0.1', 5432)) return
  const proxy = new TcpProxy('127.0.0.1', 5432)
  await proxy.start()
  t.after(() => proxy.close())
  const { orch, app } = setup(t)
  await app.register(pywatt, { io: orch.io, db: { url: `postgres://postgres@127.0.0.1:${proxy.port}/test` }, ready: { cacheTtl: 60_000 } })
  t.equal((await app.inject('/ready')).statusCode, 200)
  await proxy.cut()
  const storm = await Promise.all(Array.from({ length: 200 }, () => app.inject('/ready')))
  t.ok(storm.every((r) => r.statusCode === 200), 'inside the ttl the last outcome is served, the database is not asked')
})

t.test('a required channel lost: /ready 503 naming it', async (t) => {
  const server = new ChannelServer({ kind: 'tcp' })
  await server.listen()
  t.after(() => server.close())
  const { orch, app } = setup(t, { tcp_channel: { address: server.address, tls_enabled: false, required: true } })
  await app.register(pywatt, { io: orch.io, channels: { reconnect: { initialDelay: 60_000, maxDelay: 60_000 } } })
  await server.connected()
  t.same((await app.inject('/ready')).json().checks['channel.tcp'], { ok: true })
  server.dropConnection()
  await until(() => app.pywatt.channels.get('tcp')?.state !== 'connected')
  const res = await app.inject('/ready')
  t.equal(res.statusCode, 503)
  t.match(res.json(), { checks: { 'channel.tcp': { ok: false, error: /the tcp channel is (reconnecting|connecting)/ } } })
})

t.test('shutdown with a request in flight: /ready 503 while it finishes, the request answered', async (t) => {
  const { orch, app } = setup(t, { listen: '127.0.0.1:0' })
  let entered = false
  let release = (): void => {}
  await app.register(pywatt, { io: orch.io, exitOnStop: false })
  app.get('/slow', async () => { entered = true; await new Promise<void>((resolve) => { release = resolve }); return 'done' })
  const base = `http://${await app.pywatt.listen()}`
  const slow = fetch(`${base}/slow`)
  await until(() => entered)
  t.equal((await fetch(`${base}/ready`)).status, 200, 'ready before the stop (the connection is kept alive)')
  orch.send({ op: 'shutdown' })
  await sleep(50)
  const ready = await fetch(`${base}/ready`).catch((err: Error) => err)
  t.ok(ready instanceof Error ? /fetch failed/.test(ready.message) : ready.status === 503, 'stopping: 503 on a kept-alive connection, refused on a new one')
  release()
  t.equal((await slow).status, 200)
})

t.test('liveness: an event loop stalled past maxEventLoopDelay answers 503, then recovers', async (t) => {
  const { orch, app } = setup(t)
  await app.register(pywatt, { io: orch.io, health: { maxEventLoopDelay: 100 } })
  await app.ready()
  t.equal((await app.inject('/health')).statusCode, 200)
  // The monitor measures from its previous sample: let it take a few first.
  await sleep(50)
  busy(400)
  // A request arrives after the timers phase, where the stall is recorded.
  await sleep(20)
  const stalled = await app.inject('/health')
  t.equal(stalled.statusCode, 503)
  t.equal(stalled.headers['retry-after'], '1')
  t.match(stalled.json(), { status: 'unhealthy', reason: 'event loop delay', max_event_loop_delay_ms: 100 })
  t.ok(stalled.json().event_loop_delay_ms >= 300, 'the stall is reported')
  let later = await app.inject('/health')
  for (let i = 0; i < 40 && later.statusCode !== 200; i++) {
    await sleep(100)
    later = await app.inject('/health')
  }
  t.equal(later.statusCode, 200, 'alive again once the loop runs freely')
})

t.test('liveness with maxEventLoopDelay 0 never answers 503; probes can be left out', async (t) => {
  const { orch, app } = setup(t)
  await app.register(pywatt, { io: orch.io, health: { maxEventLoopDelay: 0 }, ready: false })
  await app.ready()
  // The same stall that the test above sees answers 200 here.
  await sleep(50)
  busy(400)
  await sleep(20)
  t.equal((await app.inject('/health')).statusCode, 200)
  t.equal((await app.inject('/ready')).statusCode, 404)
  t.same(app.pywatt.endpoints(), [{ path: '/health', methods: ['GET'] }])
})

t.test('bad probe options are refused naming the option', async (t) => {
  for (const [opts, re] of [[{ ready: { cacheTtl: -1 } }, /^Invalid fastify-pywatt options: ready\.cacheTtl: Expected integer to be greater or equal to 0$/], [{ health: { path: 'health' } }, /health\.path: Expected string to match/], [{ ready: { extra: 1 } }, /ready\.extra: Unexpected property/], [{ buildInfo: { commit: 'x' } }, /buildInfo\.commit: Unexpected property/], [{ ready: 'yes' }, /ready: Expected union value/]] as const) {
    const { orch, app } = setup(t)
    await t.rejects(async () => { await app.register(pywatt, { io: orch.io, ...(opts as object) }) }, { code: 'FST_PYWATT_INVALID_OPTIONS', message: re })
  }
})
