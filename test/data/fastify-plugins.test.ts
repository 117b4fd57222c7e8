import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyPostgres from '@fastify/postgres'
import fastifyRedis from '@fastify/redis'
import { Redis } from 'ioredis'
import pywatt, { type PyWattOptions } from '../../plugins/index.js'
import { createDatabase } from '../../lib/db/index.js'
import { FakeOrchestrator, until } from '../helpers/fake-orchestrator.js'
import { captureLogger } from '../helpers/log-capture.js'
import { TcpProxy } from '../helpers/tcp-proxy.js'
import { requireServer, sleep, unique } from './helpers.js'

const PG = 'postgres://postgres@127.0.0.1:5432/test'

interface Module {
  app: FastifyInstance
  orch: FakeOrchestrator
  log: ReturnType<typeof captureLogger>
}

async function module (t: Test, options: Omit<PyWattOptions, 'io'>, secrets: Record<string, string> = {}, before?: (app: FastifyInstance) => Promise<void>): Promise<Module> {
  const orch = new FakeOrchestrator()
  orch.init()
  for (const [name, value] of Object.entries(secrets)) orch.send({ op: 'secret', name, value })
  const log = captureLogger('info')
  const app = Fastify({ loggerInstance: log.logger })
  t.after(() => app.close())
  if (before !== undefined) await before(app)
  await app.register(pywatt, { io: orch.io, ...options })
  return { app, orch, log }
}

/** Rotate `name` to `value` and wait for the log line that says it was applied. */
async function rotate (m: Module, name: string, value: string, id: string, applied: RegExp): Promise<void> {
  const asked = m.orch.ops('get_secret').filter((x) => x.name === name).length
  const done = (): number => m.log.entries().filter((e) => applied.test(e.msg)).length
  const before = done()
  m.orch.send({ op: 'rotated', keys: [name], rotation_id: id })
  await until(() => m.orch.ops('get_secret').filter((x) => x.name === name).length === asked + 1)
  m.orch.send({ op: 'secret', name, value, rotation_id: id })
  await until(() => done() > before, 10_000)
}

/** The routes of @fastify/postgres's README, as a module would already have them. */
function readmeRoutes (app: FastifyInstance, table: string): void {
  app.get('/user/:id', async (req) => {
    const { rows } = await app.pg.query(`SELECT id, name FROM ${table} WHERE id = $1`, [(req.params as { id: string }).id])
    return rows[0] ?? null
  })
  app.post('/user/:name', async (req) => {
    return await app.pg.transact(async (client) => {
      const { rows } = await client.query(`INSERT INTO ${table} (name) VALUES ($1) RETURNING id`, [(req.params as { name: string }).name])
      return rows[0]
    })
  })
  app.post('/tx/:name', { pg: { transact: true } }, async (req) => {
    const { rows } = await req.pg!.query(`INSERT INTO ${table} (name) VALUES ($1) RETURNING id`, [(req.params as { name: string }).name])
    if ((req.params as { name: string }).name === 'fail') throw new Error('rolled back')
    return rows[0]
  })
  app.get('/slow', { pg: { transact: true } }, async (req) => {
    const { rows } = await req.pg!.query('SELECT current_user AS who, pg_sleep(0.3)::text AS slept')
    return rows[0]
  })
}

t.test('PostgreSQL: @fastify/postgres README code runs unchanged over the module database', async (t) => {
  if (!await requireServer(t, 'PostgreSQL', '127.0.0.1', 5432)) return
  const table = unique('fpg')
  const m = await module(t, { db: { urlSecret: 'DATABASE_URL' } }, { DATABASE_URL: PG })
  const { app } = m
  t.after(() => app.pywatt.db.execute(`DROP TABLE IF EXISTS ${table}`))
  await app.pywatt.db.execute(`CREATE TABLE ${table} (id SERIAL PRIMARY KEY, name TEXT NOT NULL)`)
  readmeRoutes(app, table)
  t.ok(app.hasPlugin('@fastify/postgres'))

  const { rows } = await app.pg.query('SELECT $1::int AS n', [41])
  t.same(rows, [{ n: 41 }])
  await new Promise<void>((resolve, reject) => {
    app.pg.query('SELECT 1 AS one', (err: Error | undefined, res: { rows: unknown[] }) => {
      if (err) { reject(err); return }
      t.same(res.rows, [{ one: 1 }], 'callback style')
      resolve()
    })
  })
  t.same((await app.pg.query({ text: 'SELECT $1::int AS n', values: [7] })).rows, [{ n: 7 }], 'a query config')
  await new Promise<void>((resolve, reject) => {
    app.pg.query('SELECT $1::int AS n', [8], (err: Error | undefined, res: { rows: unknown[] }) => {
      if (err) { reject(err); return }
      t.same(res.rows, [{ n: 8 }], 'callback style with values')
      resolve()
    })
  })
  const failed = await new Promise<Error | undefined>((resolve) => { app.pg.query('SELECT 1/0', (err: Error | undefined) => { resolve(err) }) })
  t.match(failed, { message: /division by zero/ }, 'a failed query reaches the callback')
  t.equal(app.pg.pool.totalCount, app.pg.pool.idleCount, 'every query gave its client back')
  const client = await app.pg.connect()
  t.same((await client.query('SELECT 2 AS two')).rows, [{ two: 2 }])
  client.release()
  t.type(app.pg.Client, 'function')
  t.equal(typeof app.pg.pool.totalCount, 'number')

  const created = await app.inject({ method: 'POST', url: '/user/ada' })
  t.equal(created.statusCode, 200)
  const id = created.json<{ id: number }>().id
  t.same((await app.inject(`/user/${id}`)).json(), { id, name: 'ada' })
  t.equal((await app.inject({ method: 'POST', url: '/tx/bob' })).statusCode, 200)
  t.equal((await app.inject({ method: 'POST', url: '/tx/fail' })).statusCode, 500)
  const names = await app.pywatt.db.query<{ name: string }>(`SELECT name FROM ${table} ORDER BY id`)
  t.same(names.map((r) => r.name), ['ada', 'bob'], 'the route transaction committed, the failing one rolled back')
  await t.rejects(app.pg.transact(async (c) => {
    await c.query(`INSERT INTO ${table} (name) VALUES ('carol')`)
    throw new Error('nope')
  }), /nope/)
  t.equal((await app.pywatt.db.query(`SELECT 1 FROM ${table} WHERE name = 'carol'`)).length, 0, 'transact rolled back')
  const dup = await app.pg.query('SELECT 1/0').catch((err: unknown) => err)
  t.equal((dup as { code?: string }).code, '22012', "pg's own errors, as @fastify/postgres gives them")
})

t.test('PostgreSQL: a rotated URL swaps the pool under fastify.pg; work in flight finishes on the old pool', async (t) => {
  if (!await requireServer(t, 'PostgreSQL', '127.0.0.1', 5432)) return
  const role = unique('pywatt_rot')
  const admin = createDatabase({ url: PG })
  t.after(async () => {
    await admin.execute(`DROP ROLE IF EXISTS ${role}`).catch(() => {})
    await admin.close()
  })
  await admin.execute(`CREATE ROLE ${role} LOGIN`)
  const table = unique('fpgrot')
  await admin.execute(`CREATE TABLE ${table} (id SERIAL PRIMARY KEY, name TEXT NOT NULL)`)
  await admin.execute(`GRANT ALL ON ${table} TO ${role}`)
  await admin.execute(`GRANT ALL ON SEQUENCE ${table}_id_seq TO ${role}`)
  t.after(() => admin.execute(`DROP TABLE IF EXISTS ${table}`))

  const m = await module(t, { db: { urlSecret: 'DATABASE_URL' } }, { DATABASE_URL: PG })
  const { app } = m
  readmeRoutes(app, table)
  const pool = app.pg.pool
  const who = async (): Promise<string> => (await app.pg.query('SELECT current_user AS who')).rows[0].who
  t.equal(await who(), 'postgres')

  // Work in flight on the old pool: a query, a transaction, a checked-out client, a route transaction.
  const query = app.pg.query('SELECT current_user AS who, pg_sleep(0.3)::text')
  const tx = app.pg.transact(async (client) => {
    await sleep(300)
    return (await client.query(`INSERT INTO ${table} (name) VALUES ('in-tx') RETURNING current_user AS who`)).rows[0].who
  })
  const held = await app.pg.connect()
  const route = app.inject('/slow')
  await sleep(50)
  await rotate(m, 'DATABASE_URL', `postgres://${role}@127.0.0.1:5432/test`, 'r1', /pool swapped/)

  t.equal(app.pg.pool, pool, 'fastify.pg.pool is the same object')
  t.equal(await who(), role, 'new work goes to the new pool')
  t.equal((await query).rows[0].who, 'postgres', 'the query in flight finished on the old pool')
  t.equal(await tx, 'postgres', 'the transaction in flight committed on the old pool')
  t.equal((await route).json<{ who: string }>().who, 'postgres', 'the route transaction in flight finished on the old pool')
  t.same((await held.query('SELECT current_user AS who')).rows, [{ who: 'postgres' }], 'a checked-out client keeps working')
  held.release()
  const created = await app.inject({ method: 'POST', url: '/tx/after' })
  t.equal(created.statusCode, 200)
  t.same((await admin.query(`SELECT name FROM ${table} ORDER BY id`)).map((r) => r.name), ['in-tx', 'after'])
})

t.test('PostgreSQL: opt-out, an app that registered its own first, and one that registers after', async (t) => {
  if (!await requireServer(t, 'PostgreSQL', '127.0.0.1', 5432)) return

  t.test('db.fastifyPostgres: false', async (t) => {
    const { app } = await module(t, { db: { url: PG, fastifyPostgres: false } })
    t.notOk(app.hasDecorator('pg'))
    t.notOk(app.hasPlugin('@fastify/postgres'))
  })

  t.test('not PostgreSQL: no fastify.pg', async (t) => {
    const { app } = await module(t, { db: { filename: ':memory:' } })
    t.notOk(app.hasDecorator('pg'))
  })

  t.test('registered by the app first: kept', async (t) => {
    const { app, log } = await module(t, { db: { url: PG } }, {}, async (app) => {
      await app.register(fastifyPostgres, { connectionString: PG, max: 1 })
    })
    t.equal(app.pg.pool.options.max, 1, "the app's own pool")
    t.same((await app.pg.query('SELECT 1 AS one')).rows, [{ one: 1 }])
    t.ok(log.entries().some((e) => /registered by the app before fastify-pywatt/.test(e.msg)))
  })

  t.test('a named instance registered by the app first lives beside ours', async (t) => {
    const { app } = await module(t, { db: { url: PG } }, {}, async (app) => {
      await app.register(fastifyPostgres, { connectionString: PG, name: 'mine', max: 1 })
    })
    t.equal(app.pg.mine.pool.options.max, 1)
    t.not(app.pg.pool.options.max, 1, 'fastify.pg is the module pool')
    t.same((await app.pg.query('SELECT 1 AS one')).rows, [{ one: 1 }])
  })

  t.test('registered by the app after: a named instance sits beside ours; an unnamed one is the plugin\'s own boot error', async (t) => {
    const { app } = await module(t, { db: { url: PG } })
    const ours = app.pg.pool
    await app.register(fastifyPostgres, { connectionString: PG, name: 'other', max: 1 })
    await app.ready()
    t.equal(app.pg.pool, ours)
    t.same((await app.pg.other.query('SELECT 3 AS three')).rows, [{ three: 3 }])

    const second = await module(t, { db: { url: PG } })
    await t.rejects(async () => { await second.app.register(fastifyPostgres, { connectionString: PG, max: 1 }) }, /already (been )?registered/)
  })
})

t.test('Redis: @fastify/redis code runs unchanged; fastify.redis is the cache client, reconnected in place on rotation', async (t) => {
  if (!await requireServer(t, 'Redis', '127.0.0.1', 6379)) return
  const proxy = new TcpProxy('127.0.0.1', 6379)
  await proxy.start()
  t.after(() => proxy.close())
  const key = unique('fredis')
  const direct = new Redis({ host: '127.0.0.1', port: 6379, db: 1 })
  t.after(async () => { await direct.del(key, `${key}:n`); await direct.quit() })
  await direct.del(key, `${key}:n`)

  const m = await module(t, { cache: { urlSecret: 'REDIS_URL' } }, { REDIS_URL: `redis://127.0.0.1:${proxy.port}/1` })
  const { app } = m
  app.get('/redis/:v', async (req) => {
    await app.redis.set(key, (req.params as { v: string }).v)
    return { v: await app.redis.get(key) }
  })
  t.ok(app.hasPlugin('@fastify/redis'))
  const client = app.redis
  t.same((await app.inject('/redis/one')).json(), { v: 'one' })
  t.equal(await direct.get(key), 'one')
  const seen: string[] = []
  client.on('ready', () => seen.push('ready'))

  // Commands in flight across the rotation: none lost, none sent twice.
  const state = { stop: false }
  let sent = 0
  const load = (async () => {
    const pending: Array<Promise<number>> = []
    while (!state.stop) {
      for (let i = 0; i < 20; i++) { pending.push(app.redis.incr(`${key}:n`)); sent++ }
      await sleep(1)
    }
    return await Promise.all(pending)
  })()
  const routes = Array.from({ length: 10 }, (_, i) => app.inject(`/redis/r${i}`))
  await sleep(30)
  await rotate(m, 'REDIS_URL', 'redis://127.0.0.1:6379/1', 'r1', /cache client swapped/)
  await until(() => seen.includes('ready'), 5_000)
  await sleep(30)
  state.stop = true
  const results = await load
  t.equal(results.length, sent)
  t.equal(Number(await direct.get(`${key}:n`)), sent, 'every INCR counted exactly once')
  for (const r of await Promise.all(routes)) t.equal(r.statusCode, 200)

  t.equal(app.redis, client, 'fastify.redis is the same object')
  await proxy.cut()
  t.same((await app.inject('/redis/two')).json(), { v: 'two' }, 'new commands no longer go through the old address')
  t.equal(await app.pywatt.cache.get('x'), undefined)

  // A rotation to another database number is honoured.
  await rotate(m, 'REDIS_URL', 'redis://127.0.0.1:6379/2', 'r2', /cache client swapped.*in place/)
  await app.redis.set(key, 'in-db-2')
  t.equal(await direct.get(key), 'two', 'db 1 untouched')
  const db2 = new Redis({ host: '127.0.0.1', port: 6379, db: 2 })
  t.after(async () => { await db2.del(key); await db2.quit() })
  t.equal(await db2.get(key), 'in-db-2')
})

t.test('Redis: opt-out, an app that registered its own first, and one that registers after', async (t) => {
  if (!await requireServer(t, 'Redis', '127.0.0.1', 6379)) return

  t.test('cache.fastifyRedis: false', async (t) => {
    const { app } = await module(t, { cache: { url: 'redis://127.0.0.1:6379', fastifyRedis: false } })
    t.notOk(app.hasDecorator('redis'))
  })

  t.test('Redis down at start: the module starts, fastify.redis is the cache client all the same', async (t) => {
    const proxy = new TcpProxy('127.0.0.1', 6379)
    await proxy.start()
    t.after(() => proxy.close())
    await proxy.cut()
    const { app, log } = await module(t, { cache: { url: `redis://127.0.0.1:${proxy.port}`, commandTimeout: 300 } })
    t.ok(app.hasDecorator('redis'))
    t.notOk(app.hasPlugin('@fastify/redis'))
    t.ok(log.entries().some((e) => /not reachable at start/.test(e.msg)))
    await proxy.restore()
    await until(() => app.redis.status === 'ready', 5_000)
    t.equal(await app.redis.ping(), 'PONG')
  })

  t.test('memory cache: no fastify.redis', async (t) => {
    const { app } = await module(t, {})
    t.notOk(app.hasDecorator('redis'))
  })

  t.test('registered by the app first: kept, and closed by it', async (t) => {
    const { app } = await module(t, { cache: { url: 'redis://127.0.0.1:6379' } }, {}, async (app) => {
      await app.register(fastifyRedis, { host: '127.0.0.1', port: 6379, connectionName: 'theirs' })
    })
    t.equal(app.redis.options.connectionName, 'theirs')
    t.equal(await app.redis.ping(), 'PONG')
  })

  t.test('registered by the app after: a namespaced instance sits beside ours; an unnamed one is the plugin\'s own boot error', async (t) => {
    const { app } = await module(t, { cache: { url: 'redis://127.0.0.1:6379' } })
    const ours = app.redis
    await app.register(fastifyRedis, { host: '127.0.0.1', port: 6379, namespace: 'other', closeClient: true })
    await app.ready()
    t.equal(app.redis, ours)
    t.equal(await (app.redis as unknown as Record<string, Redis>).other.ping(), 'PONG')

    const second = await module(t, { cache: { url: 'redis://127.0.0.1:6379' } })
    await t.rejects(async () => { await second.app.register(fastifyRedis, { host: '127.0.0.1', port: 6379 }) }, /already (been )?registered/)
  })
})
