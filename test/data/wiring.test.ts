import { existsSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import Fastify from 'fastify'
import pywatt from '../../plugins/index.js'
import { FakeOrchestrator, until } from '../helpers/fake-orchestrator.js'
import { captureLogger } from '../helpers/log-capture.js'
import { requireServer, sleep } from './helpers.js'

t.test('embedded defaults: SQLite under the data directory, created on first use; memory cache', async (t) => {
  const dir = t.testdir({})
  process.env.PYWATT_DATA_DIR = dir
  t.after(() => { delete process.env.PYWATT_DATA_DIR })
  const orch = new FakeOrchestrator()
  orch.init()
  const app = Fastify()
  t.after(() => app.close())
  await app.register(pywatt, { io: orch.io })
  t.notOk(existsSync(join(dir, 'pywatt.sqlite')), 'no file until the database is used')
  t.equal(app.pywatt.db.dialect, 'sqlite')
  t.equal(app.pywatt.db, app.pywatt.db, 'one instance')
  await app.pywatt.db.execute('CREATE TABLE t (v TEXT)')
  t.ok(existsSync(join(dir, 'pywatt.sqlite')))
  t.equal(app.pywatt.cache.kind, 'memory')
  await app.pywatt.cache.set('k', 'v')
  const db = app.pywatt.db
  await app.close()
  await t.rejects(db.query('SELECT 1'), { code: 'FST_PYWATT_DB_CLOSED' }, 'onClose closed what we created')
})

t.test('db: false / cache: false leave them out; nothing is closed that was not created', async (t) => {
  const orch = new FakeOrchestrator()
  orch.init()
  const app = Fastify()
  await app.register(pywatt, { io: orch.io, db: false, cache: false })
  t.notOk('db' in app.pywatt)
  t.notOk('cache' in app.pywatt)
  await app.close()
})

t.test('options are validated', async (t) => {
  const orch = new FakeOrchestrator()
  orch.init()
  const app = Fastify()
  t.after(() => app.close())
  await t.rejects(async () => { await app.register(pywatt, { io: orch.io, db: { pool: { max: 0 } } }) }, { code: 'FST_PYWATT_INVALID_OPTIONS', message: /db/ })
})

t.test('URL secrets: fetched at start, password scrubbed; a rotated URL swaps the pool', async (t) => {
  const dir = t.testdir({})
  const orch = new FakeOrchestrator()
  orch.init()
  // Pushed before start (no request needed); rotations are answered by hand below.
  orch.send({ op: 'secret', name: 'DATABASE_URL', value: `sqlite:${join(dir, 'a.sqlite')}` })
  orch.send({ op: 'secret', name: 'CACHE_URL', value: 'memory:' })
  const log = captureLogger('info')
  const app = Fastify({ loggerInstance: log.logger })
  t.after(() => app.close())
  await app.register(pywatt, { io: orch.io, db: { urlSecret: 'DATABASE_URL' }, cache: { urlSecret: 'CACHE_URL', namespace: 'ns' } })
  const { db } = app.pywatt
  await db.execute('CREATE TABLE which (name TEXT)')
  await db.execute("INSERT INTO which VALUES ('a')")
  // A transaction runs on the old pool across the swap.
  const running = db.transaction(async (tx) => {
    await sleep(100)
    return await tx.queryOne<{ name: string }>('SELECT name FROM which')
  })
  await sleep(10)
  orch.send({ op: 'rotated', keys: ['DATABASE_URL'], rotation_id: 'r1' })
  await until(() => orch.ops('get_secret').filter((x) => x.name === 'DATABASE_URL').length === 1)
  orch.send({ op: 'secret', name: 'DATABASE_URL', value: `sqlite:${join(dir, 'b.sqlite')}`, rotation_id: 'r1' })
  await until(() => log.entries().some((e) => /pool swapped/.test(e.msg)))
  t.same(await running, { name: 'a' }, 'the running transaction finished on the old pool')
  t.equal(app.pywatt.db, db, 'the same object, a new pool')
  await db.execute('CREATE TABLE which (name TEXT)')
  await db.execute("INSERT INTO which VALUES ('b')")
  t.same(await db.query('SELECT name FROM which'), [{ name: 'b' }])

  // A rotated URL that does not work keeps the current pool.
  orch.send({ op: 'rotated', keys: ['DATABASE_URL'], rotation_id: 'r2' })
  await until(() => orch.ops('get_secret').filter((x) => x.name === 'DATABASE_URL').length === 2)
  orch.send({ op: 'secret', name: 'DATABASE_URL', value: 'nosuch://x', rotation_id: 'r2' })
  await until(() => log.entries().some((e) => /does not work/.test(e.msg)))
  t.same(await db.query('SELECT name FROM which'), [{ name: 'b' }])
  t.equal(app.pywatt.cache.kind, 'memory')
})

t.test('PostgreSQL and Redis from URL secrets; rotation to a new password', async (t) => {
  if (!await requireServer(t, 'PostgreSQL', '127.0.0.1', 5432)) return
  if (!await requireServer(t, 'Redis', '127.0.0.1', 6379)) return
  const orch = new FakeOrchestrator()
  orch.init()
  const password = 'rot@ted:pass/word-1'
  orch.send({ op: 'secret', name: 'DATABASE_URL', value: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:5432/test` })
  orch.send({ op: 'secret', name: 'REDIS_URL', value: 'redis://127.0.0.1:6379/0' })
  const log = captureLogger('debug')
  const app = Fastify({ loggerInstance: log.logger })
  t.after(() => app.close())
  await app.register(pywatt, { io: orch.io, db: { urlSecret: 'DATABASE_URL' }, cache: { urlSecret: 'REDIS_URL' } })
  t.equal(app.pywatt.db.dialect, 'postgres')
  t.equal(app.pywatt.cache.kind, 'redis')
  const slow = app.pywatt.db.query('SELECT pg_sleep(0.3), 1 AS one')
  await sleep(50)
  orch.send({ op: 'rotated', keys: ['DATABASE_URL'], rotation_id: 'r1' })
  await until(() => orch.ops('get_secret').filter((x) => x.name === 'DATABASE_URL').length === 1)
  orch.send({ op: 'secret', name: 'DATABASE_URL', value: 'mysql://root@127.0.0.1:3306/test', rotation_id: 'r1' })
  await until(() => log.entries().some((e) => /pool swapped/.test(e.msg)), 10_000)
  t.equal((await slow)[0].one, 1, 'the query running on the old pool was not failed')
  t.equal(app.pywatt.db.dialect, 'mysql')
  await app.pywatt.db.ping()
  log.logger.info(`leak check ${password} ${encodeURIComponent(password)}`)
  t.notOk(log.lines.some((l) => l.includes(password) || l.includes(encodeURIComponent(password))), 'the password never reaches a log line')
})

t.test('a rotated cache URL swaps the client: a URL that does not answer is refused, new commands go to the new server', async (t) => {
  if (!await requireServer(t, 'Redis', '127.0.0.1', 6379)) return
  const { createCache } = await import('../../lib/cache/index.js')
  const namespace = `rot-${process.pid}-${Date.now()}`
  const orch = new FakeOrchestrator()
  orch.init()
  orch.send({ op: 'secret', name: 'REDIS_URL', value: 'redis://127.0.0.1:6379/0' })
  const log = captureLogger('info')
  const app = Fastify({ loggerInstance: log.logger })
  t.after(() => app.close())
  await app.register(pywatt, { io: orch.io, cache: { urlSecret: 'REDIS_URL', namespace, commandTimeout: 200 } })
  const { cache } = app.pywatt
  const db1 = createCache({ url: 'redis://127.0.0.1:6379/1', namespace })
  t.after(async () => { await db1.deleteMany(['after']); await db1.close() })
  await cache.set('before', 'in-db-0')

  // A rotated URL that does not answer keeps the current client.
  orch.send({ op: 'rotated', keys: ['REDIS_URL'], rotation_id: 'r0' })
  await until(() => orch.ops('get_secret').filter((x) => x.name === 'REDIS_URL').length === 1)
  orch.send({ op: 'secret', name: 'REDIS_URL', value: 'redis://127.0.0.1:1/0', rotation_id: 'r0' })
  await until(() => log.entries().some((e) => /cache URL does not work/.test(e.msg)), 10_000)
  t.equal(await cache.get('before'), 'in-db-0', 'still on the first server')

  orch.send({ op: 'rotated', keys: ['REDIS_URL'], rotation_id: 'r1' })
  await until(() => orch.ops('get_secret').filter((x) => x.name === 'REDIS_URL').length === 2)
  orch.send({ op: 'secret', name: 'REDIS_URL', value: 'redis://127.0.0.1:6379/1', rotation_id: 'r1' })
  await until(() => log.entries().some((e) => /cache client swapped/.test(e.msg)), 10_000)
  t.equal(app.pywatt.cache, cache, 'the same object, a new client')
  await cache.set('after', 'in-db-1')
  t.equal(await db1.get('after'), 'in-db-1', 'new commands reach the rotated server')
  t.equal(await cache.get('before'), undefined, 'values are not copied between servers')
})

t.test('Cache.replace closes the old backend after the grace, or at close() if that comes first', async (t) => {
  const { Cache, createBackend } = await import('../../lib/cache/index.js')
  const closed: string[] = []
  const tracked = (name: string) => {
    const backend = createBackend()
    const close = backend.close.bind(backend)
    backend.close = async () => { closed.push(name); await close() }
    return backend
  }
  const cache = new Cache(tracked('first'))
  await cache.set('k', 'v1')
  cache.replace(tracked('second'), 30)
  t.equal(await cache.get('k'), undefined, 'the new backend serves at once')
  t.same(closed, [], 'the old one is not closed yet')
  await sleep(60)
  t.same(closed, ['first'], 'closed after the grace')
  cache.replace(tracked('third'), 60_000)
  await cache.close()
  t.same(closed.sort(), ['first', 'second', 'third'], 'close() does not wait for the grace')
})
