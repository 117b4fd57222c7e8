import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import pywatt, { type PyWattOptions } from '../../plugins/index.js'
import jwt from '../../plugins/jwt.js'
import portNegotiation from '../../plugins/port-negotiation.js'
import metrics from '../../plugins/metrics.js'
import { internalsOf } from '../../lib/internals.js'
import { FakeOrchestrator, until } from '../helpers/fake-orchestrator.js'
import { captureLogger } from '../helpers/log-capture.js'
import { find, parseSamples, type Sample } from '../helpers/scrape.js'
import { requireServer } from '../data/helpers.js'

async function boot (t: Test, root: Partial<PyWattOptions> = {}, before?: (app: FastifyInstance) => Promise<void>, secrets: Record<string, string> = {}) {
  const orch = new FakeOrchestrator()
  const app = Fastify({ loggerInstance: captureLogger().logger })
  t.after(() => app.close())
  orch.init({ module_id: 'observed-test', listen: '/tmp/pywatt-observed-unused.sock' })
  orch.serveSecrets(secrets)
  await app.register(pywatt, { io: orch.io, ...root } as PyWattOptions)
  await before?.(app)
  await app.register(metrics)
  return { orch, app }
}

async function scrape (app: FastifyInstance): Promise<Sample[]> {
  const res = await app.inject({ url: '/metrics' })
  if (res.statusCode !== 200) throw new Error(`scrape answered ${res.statusCode}`)
  return parseSamples(res.body)
}

const value = (samples: Sample[], name: string, labels: Record<string, string>): number =>
  find(samples, name, labels).reduce((n, s) => n + s.value, 0)

t.test('protocol: a heartbeat received on stdio and its heartbeat_ack sent are counted by op', async (t) => {
  const { orch, app } = await boot(t)
  await app.ready()
  const before = await scrape(app)
  t.equal(value(before, 'pywatt_messages_received_total', { channel: 'stdio', op: 'heartbeat' }), 0)
  orch.send({ op: 'heartbeat' })
  orch.send({ op: 'heartbeat' })
  await until(() => orch.ops('heartbeat_ack').length === 2)
  const samples = await scrape(app)
  t.equal(value(samples, 'pywatt_messages_received_total', { channel: 'stdio', op: 'heartbeat' }), 2)
  t.equal(value(samples, 'pywatt_messages_sent_total', { op: 'heartbeat_ack' }), 2)
})

t.test('secrets: the startup get_secret requests, sent before the metrics plugin registers, are observed too', async (t) => {
  const { app } = await boot(t, { secrets: ['API_KEY', 'OTHER_KEY'] }, undefined, { API_KEY: 'k-1', OTHER_KEY: 'k-2' })
  await app.ready()
  const samples = await scrape(app)
  t.equal(value(samples, 'pywatt_messages_sent_total', { op: 'get_secret' }), 2)
  t.equal(value(samples, 'pywatt_secret_request_duration_seconds_count', { outcome: 'answered' }), 2)
  const waited = value(samples, 'pywatt_secret_request_duration_seconds_sum', { outcome: 'answered' })
  t.ok(waited > 0 && waited < 5, `timed from their own start, in seconds (${waited})`)
})

t.test('secrets: an answered get_secret and a timed-out one are observed; rotations by outcome', async (t) => {
  const { orch, app } = await boot(t, {}, undefined, { API_KEY: 'k-1' })
  await app.ready()
  t.equal(await app.pywatt.secrets.fetch('API_KEY'), 'k-1')
  await t.rejects(app.pywatt.secrets.fetch('NEVER_ANSWERED', { timeout: 30 }), { code: 'FST_PYWATT_SECRET_TIMEOUT' })
  let samples = await scrape(app)
  t.equal(value(samples, 'pywatt_secret_request_duration_seconds_count', { outcome: 'answered' }), 1)
  t.equal(value(samples, 'pywatt_secret_request_duration_seconds_count', { outcome: 'timeout' }), 1)
  const waited = value(samples, 'pywatt_secret_request_duration_seconds_sum', { outcome: 'timeout' })
  t.ok(waited >= 0.025 && waited < 5, `the timeout waited ~30 ms, in seconds (${waited})`)
  t.equal(value(samples, 'pywatt_messages_sent_total', { op: 'get_secret' }), 2)
  t.equal(value(samples, 'pywatt_messages_received_total', { channel: 'stdio', op: 'secret' }), 1)

  orch.send({ op: 'rotated', keys: ['API_KEY'], rotation_id: 'rot-1' })
  await until(() => orch.ops('rotation_ack').length === 1)
  orch.send({ op: 'rotated', keys: ['API_KEY'], rotation_id: 'rot-1' })
  await until(() => orch.ops('rotation_ack').length === 2)
  samples = await scrape(app)
  t.equal(value(samples, 'pywatt_secret_rotations_total', { outcome: 'success' }), 1)
  t.equal(value(samples, 'pywatt_secret_rotations_total', { outcome: 'duplicate' }), 1, 'the same rotation id again')
  t.equal(value(samples, 'pywatt_messages_sent_total', { op: 'rotation_ack' }), 2)
})

t.test('db: statements by backend and outcome (SQLite in memory), inside a transaction too; no pool gauge for SQLite', async (t) => {
  const { app } = await boot(t, { db: { url: 'sqlite::memory:' } })
  await app.ready()
  t.same(find(await scrape(app), 'pywatt_db_query_duration_seconds_count'), [], 'nothing before first use')
  const db = app.pywatt.db
  await db.execute('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)')
  await db.query('SELECT * FROM t')
  await t.rejects(db.query('SELECT * FROM no_such_table'))
  await db.transaction(async (tx) => {
    await tx.execute('INSERT INTO t (v) VALUES (?)', ['a'])
    await tx.queryOne('SELECT v FROM t')
  })
  const samples = await scrape(app)
  t.equal(value(samples, 'pywatt_db_query_duration_seconds_count', { backend: 'sqlite', outcome: 'ok' }), 4)
  t.equal(value(samples, 'pywatt_db_query_duration_seconds_count', { backend: 'sqlite', outcome: 'error' }), 1)
  t.same(find(samples, 'pywatt_db_pool_connections'), [])
  t.not(internalsOf(app.pywatt).database, null)
})

t.test('db: a scrape does not open the embedded database the module never used', async (t) => {
  const { app } = await boot(t)
  await app.ready()
  const samples = await scrape(app)
  t.equal(internalsOf(app.pywatt).database, null, 'still closed after a scrape')
  t.same(find(samples, 'pywatt_db_pool_connections'), [])
  t.same(find(samples, 'pywatt_db_query_duration_seconds_count'), [])
})

t.test('db: PostgreSQL pool gauges total/idle/waiting', async (t) => {
  if (!await requireServer(t, 'PostgreSQL', '127.0.0.1', 5432)) return
  const { app } = await boot(t, { db: { url: 'postgres://postgres@127.0.0.1:5432/test' } })
  await app.ready()
  // pg drops a connection that saw an error: the failing query first, so one is left open.
  await t.rejects(app.pywatt.db.query('SELECT * FROM pywatt_no_such_table_at_all'))
  await app.pywatt.db.query('SELECT 1')
  const samples = await scrape(app)
  t.equal(value(samples, 'pywatt_db_query_duration_seconds_count', { backend: 'postgres', outcome: 'ok' }), 1)
  t.equal(value(samples, 'pywatt_db_query_duration_seconds_count', { backend: 'postgres', outcome: 'error' }), 1)
  t.ok(value(samples, 'pywatt_db_pool_connections', { backend: 'postgres', state: 'total' }) >= 1, 'a connection is open')
  t.ok(value(samples, 'pywatt_db_pool_connections', { backend: 'postgres', state: 'idle' }) >= 1, 'and idle after the queries')
  t.equal(value(samples, 'pywatt_db_pool_connections', { backend: 'postgres', state: 'waiting' }), 0)
})

t.test('db: MySQL/MariaDB pool gauges total/idle/waiting, counted by the driver (mysql2 keeps them private)', async (t) => {
  if (!await requireServer(t, 'MariaDB', '127.0.0.1', 3306)) return
  const { app } = await boot(t, { db: { url: 'mysql://root@127.0.0.1:3306/test', pool: { max: 1 } } })
  await app.ready()
  const db = app.pywatt.db
  const gauges = async (): Promise<Record<string, number>> => {
    const samples = await scrape(app)
    return Object.fromEntries(['total', 'idle', 'waiting'].map((state) => [state, value(samples, 'pywatt_db_pool_connections', { backend: 'mysql', state })]))
  }
  await db.query('SELECT 1')
  t.same(await gauges(), { total: 1, idle: 1, waiting: 0 }, 'one connection, back in the pool')

  // The one connection held by a transaction; a query waits for it.
  let entered = false
  let leave: () => void = () => {}
  const held = new Promise<void>((resolve) => { leave = resolve })
  const transaction = db.transaction(async (tx) => {
    await tx.query('SELECT 1')
    entered = true
    await held
  })
  await until(() => entered)
  const queued = db.query('SELECT 2')
  let now = await gauges()
  for (let i = 0; i < 100 && now.waiting === 0; i++) now = await gauges()
  t.same(now, { total: 1, idle: 0, waiting: 1 }, 'checked out, and one caller waiting')
  leave()
  await transaction
  await queued
  t.same(await gauges(), { total: 1, idle: 1, waiting: 0 }, 'back again')
})

t.test('jwt: accepted and refused verifications, the refusal by reason; the token is never a label', async (t) => {
  const { app } = await boot(t, {}, async (app) => { await app.register(jwt) }, { JWT_SECRET: 'a-jwt-secret-of-some-length-0123456789' })
  app.get('/guarded', { onRequest: app.pywatt.jwt?.authenticate }, async () => 'ok')
  await app.ready()
  const token = app.pywatt.jwt?.sign({ sub: 'u1' }) as string
  t.equal((await app.inject({ url: '/guarded', headers: { authorization: `Bearer ${token}` } })).statusCode, 200)
  t.equal((await app.inject({ url: '/guarded' })).statusCode, 401)
  t.equal((await app.inject({ url: '/guarded', headers: { authorization: 'Bearer not.a.token' } })).statusCode, 401)
  const samples = await scrape(app)
  t.equal(value(samples, 'pywatt_jwt_verifications_total', { outcome: 'accepted', reason: 'none' }), 1)
  t.equal(value(samples, 'pywatt_jwt_verifications_total', { outcome: 'refused', reason: 'FST_PYWATT_JWT_MISSING' }), 1)
  t.equal(value(samples, 'pywatt_jwt_verifications_total', { outcome: 'refused', reason: 'FST_PYWATT_JWT_SIGNATURE' }) +
    value(samples, 'pywatt_jwt_verifications_total', { outcome: 'refused', reason: 'FST_PYWATT_JWT_MALFORMED' }), 1)
  t.notOk(find(samples, 'pywatt_jwt_verifications_total').some((s) => Object.values(s.labels).some((v) => v.includes(token.slice(0, 10)))))
})

t.test('jwt: a direct request.jwtVerify(), promise or callback form, is counted by outcome and reason', async (t) => {
  const { app } = await boot(t, {}, async (app) => { await app.register(jwt) }, { JWT_SECRET: 'a-jwt-secret-of-some-length-0123456789' })
  app.get('/direct', async (req) => { await req.jwtVerify(); return 'ok' })
  app.get('/callback', (req, reply) => { req.jwtVerify((err) => { reply.code(err === null ? 200 : 401).send() }) })
  await app.ready()
  const api = app.pywatt.jwt as NonNullable<typeof app.pywatt.jwt>
  const auth = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` })
  const token = api.sign({ sub: 'u1' })
  const expired = api.sign({ sub: 'u1', exp: Math.floor(Date.now() / 1000) - 3600 })
  t.equal((await app.inject({ url: '/direct', headers: auth(token) })).statusCode, 200)
  t.equal((await app.inject({ url: '/callback', headers: auth(token) })).statusCode, 200)
  t.equal((await app.inject({ url: '/direct' })).statusCode, 401)
  t.equal((await app.inject({ url: '/direct', headers: auth(expired) })).statusCode, 401)
  t.equal((await app.inject({ url: '/callback', headers: auth(`${token.slice(0, -4)}AAAA`) })).statusCode, 401)
  const samples = await scrape(app)
  t.equal(value(samples, 'pywatt_jwt_verifications_total', { outcome: 'accepted', reason: 'none' }), 2, 'once per call, the promise form included')
  t.equal(value(samples, 'pywatt_jwt_verifications_total', { outcome: 'refused', reason: 'FST_PYWATT_JWT_MISSING' }), 1)
  t.equal(value(samples, 'pywatt_jwt_verifications_total', { outcome: 'refused', reason: 'FST_PYWATT_JWT_EXPIRED' }), 1)
  t.equal(value(samples, 'pywatt_jwt_verifications_total', { outcome: 'refused', reason: 'FST_PYWATT_JWT_SIGNATURE' }), 1)
})

t.test('jwt: request.jwtVerify(options), @fastify/jwt\'s verification, is counted too, with its refusals read as our reasons', async (t) => {
  const { app } = await boot(t, {}, async (app) => { await app.register(jwt) }, { JWT_SECRET: 'a-jwt-secret-of-some-length-0123456789' })
  app.get('/options', async (req) => { await req.jwtVerify({}); return 'ok' })
  app.get('/callback', (req, reply) => { req.jwtVerify({}, (err) => { reply.code(err === null ? 200 : 401).send() }) })
  await app.ready()
  const api = app.pywatt.jwt as NonNullable<typeof app.pywatt.jwt>
  const auth = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` })
  const token = api.sign({ sub: 'u1' })
  t.equal((await app.inject({ url: '/options', headers: auth(token) })).statusCode, 200)
  t.equal((await app.inject({ url: '/callback', headers: auth(token) })).statusCode, 200)
  t.equal((await app.inject({ url: '/options' })).statusCode, 401)
  t.equal((await app.inject({ url: '/callback', headers: auth(api.sign({ sub: 'u1', exp: Math.floor(Date.now() / 1000) - 3600 })) })).statusCode, 401)
  t.equal((await app.inject({ url: '/options', headers: auth(`${token.slice(0, -4)}AAAA`) })).statusCode, 401)
  const samples = await scrape(app)
  t.equal(value(samples, 'pywatt_jwt_verifications_total', { outcome: 'accepted', reason: 'none' }), 2)
  t.equal(value(samples, 'pywatt_jwt_verifications_total', { outcome: 'refused', reason: 'FST_PYWATT_JWT_MISSING' }), 1)
  t.equal(value(samples, 'pywatt_jwt_verifications_total', { outcome: 'refused', reason: 'FST_PYWATT_JWT_EXPIRED' }), 1)
  t.equal(value(samples, 'pywatt_jwt_verifications_total', { outcome: 'refused', reason: 'FST_PYWATT_JWT_SIGNATURE' }), 1)
})

t.test('port negotiation: granted and refused are counted', async (t) => {
  const { orch, app } = await boot(t, {}, async (app) => { await app.register(portNegotiation, { timeouts: [5000] }) })
  await app.ready()
  const negotiatePort = app.pywatt.negotiatePort as (p?: number) => Promise<number>
  const granted = negotiatePort(8200)
  const first = await orch.waitFor((l) => l.op === 'port_request')
  orch.send({ op: 'port_response', request_id: first.request_id, success: true, port: 8200, error_message: null })
  t.equal(await granted, 8200)
  const refused = negotiatePort(8201)
  await until(() => orch.ops('port_request').length === 2)
  orch.send({ op: 'port_response', request_id: orch.ops('port_request')[1]?.request_id, success: false, port: 0, error_message: 'taken' })
  await t.rejects(refused, { code: 'FST_PYWATT_PORT_NEGOTIATION', reason: 'refused' })
  const samples = await scrape(app)
  t.equal(value(samples, 'pywatt_port_negotiations_total', { outcome: 'granted' }), 1)
  t.equal(value(samples, 'pywatt_port_negotiations_total', { outcome: 'refused' }), 1)
  t.equal(value(samples, 'pywatt_messages_received_total', { channel: 'stdio', op: 'port_response' }), 2)
})

t.test('without the metrics plugin nobody observes; two apps in one process count only their own events', async (t) => {
  const plain = Fastify({ loggerInstance: captureLogger().logger })
  t.after(() => plain.close())
  const orch = new FakeOrchestrator()
  orch.init({ module_id: 'plain' })
  await plain.register(pywatt, { io: orch.io, db: { url: 'sqlite::memory:' } })
  await plain.ready()
  t.equal(internalsOf(plain.pywatt).observation.current, null)
  const { app } = await boot(t, { db: { url: 'sqlite::memory:' } })
  await app.ready()
  await plain.pywatt.db.query('SELECT 1')
  t.same(find(await scrape(app), 'pywatt_db_query_duration_seconds_count'), [], "the other app's statement is not counted")
  await app.close()
  t.equal(internalsOf(app.pywatt).observation.current, null, 'the observer leaves with the app')
})
