import t from 'tap'
import { fileURLToPath } from 'node:url'
import { Database } from '../../lib/db/database.js'
import { ProxiedDriver } from '../../lib/db/proxied.js'
import { databasePool } from '../../lib/data/proxied.js'
import type { DatabaseOptions } from '../../lib/db/index.js'
import { dbContract, type DbFactory } from './db-contract.js'
import { serveProxied, type Relay, type Served } from './proxied-helpers.js'
import { deferred, requireServer, unique } from './helpers.js'

/** Databases over the served module's channel, each with its own connections. */
function proxiedFactory (served: Served): DbFactory {
  const driver = (o: DatabaseOptions): ProxiedDriver => new ProxiedDriver(databasePool(served.channel, { pool: o.pool }, served.app.log), 'sqlite')
  return { driver, database: (o) => new Database(driver(o)) }
}

const ops = (served: Served, operation?: string): Array<Record<string, any>> =>
  served.orch.ops('service_operation').filter((l) => operation === undefined || l.operation === operation)

t.test('the database contract through the dev orchestrator (results echo the operation)', async (t) => {
  const served = await serveProxied(t, { module: { db: false, cache: false } })
  dbContract(t, {}, proxiedFactory(served))
})

t.test('fastify.pywatt.db with via: orchestrator opens its connections at start and runs statements there', async (t) => {
  const served = await serveProxied(t, { module: { db: { via: 'orchestrator', pool: { max: 3 } }, cache: false } })
  const requests = served.orch.ops('service_request')
  t.equal(requests.length, 3, 'pool.max connections, opened at start')
  t.ok(requests.every((r) => r.service_type === 'Database' && /^database_request_/.test(r.id)))
  const db = served.app.pywatt.db
  t.equal(db.dialect, 'sqlite')
  await db.execute('CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)')
  const inserted = await db.execute('INSERT INTO items (name) VALUES (?)', ['a'])
  t.same(inserted, { rowsAffected: 1, lastInsertId: 1 })
  t.same(await db.query('SELECT id, name FROM items'), [{ id: 1, name: 'a' }])
  t.same(ops(served, 'execute').at(-1)?.params, { query: 'INSERT INTO items (name) VALUES (?)', params: ['a'] })
  await db.ping()
  // Migrations need a session of their own (a lock, scripts): the service has none.
  await t.rejects(db.migrate(fileURLToPath(new URL('../../example/migrations', import.meta.url))), { code: 'FST_PYWATT_MIGRATION', message: /orchestrator owns the schema/ })
  await served.app.close()
  t.equal(ops(served, 'close').length, 3, 'closing the app closes every connection')
})

t.test('fifty concurrent different queries over four connections: each caller gets its own answer', async (t) => {
  const counter = inFlightCounter()
  const served = await serveProxied(t, { relay: counter.relay, module: { db: { via: 'orchestrator', pool: { max: 4 } }, cache: false } })
  counter.attach(served)
  const db = served.app.pywatt.db
  await db.ping()
  const answers = await Promise.all(Array.from({ length: 50 }, async (_, i) => await db.queryOne<{ n: number, s: string }>('SELECT ? AS n, ? AS s', [i, `q${i}`])))
  t.same(answers, Array.from({ length: 50 }, (_, i) => ({ n: i, s: `q${i}` })))
  const used = new Set(ops(served, 'query').map((l) => l.connection_id))
  t.equal(used.size, 4, 'the queries were spread over the four connections')
  t.ok(counter.most() > 1 && counter.most() <= 4, `up to one operation in flight per connection (${counter.most()})`)
})

/** A relay that counts the most operations the module had sent and not yet been answered. */
function inFlightCounter (): { relay: Relay, attach: (served: Served) => void, most: () => number } {
  let served: Served | undefined
  let answered = 0
  let most = 0
  const relay: Relay = (m, deliver) => {
    if (m.op === 'service_operation_result' && served !== undefined) {
      most = Math.max(most, ops(served).length - answered)
      answered++
    }
    deliver()
  }
  return { relay, attach: (s) => { served = s }, most: () => most }
}

t.test('without an echo, results are matched by arrival, one operation in flight at a time', async (t) => {
  const counter = inFlightCounter()
  const served = await serveProxied(t, {
    relay: (m, deliver) => counter.relay(m, () => {
      delete (m as { params?: unknown }).params
      deliver()
    }),
    module: { db: { via: 'orchestrator' }, cache: false }
  })
  counter.attach(served)
  const db = served.app.pywatt.db
  const answers = await Promise.all(Array.from({ length: 20 }, async (_, i) => (await db.queryOne<{ n: number }>('SELECT ? AS n', [i]))?.n))
  t.same(answers, Array.from({ length: 20 }, (_, i) => i))
  t.equal(counter.most(), 1, 'never two operations in flight')
  await db.transaction(async (tx) => {
    await tx.execute('CREATE TABLE t (v INTEGER)')
    await tx.execute('INSERT INTO t (v) VALUES (?)', [7])
  })
  await t.rejects(db.transaction(async (tx) => {
    await tx.execute('INSERT INTO t (v) VALUES (?)', [8])
    throw new Error('undo')
  }), /undo/)
  t.same(await db.query('SELECT v FROM t'), [{ v: 7 }], 'committed, then rolled back')
})

/** Hold back the result of the first operation that `match` picks; the rest go at once. */
function holdFirst (match: (m: Record<string, any>) => boolean): { relay: Relay, held: Promise<() => void> } {
  const held = deferred<() => void>()
  let taken = false
  const relay: Relay = (m, deliver) => {
    const echo = (m as { params?: Record<string, any> }).params
    if (!taken && m.op === 'service_operation_result' && match(echo ?? {})) {
      taken = true
      held.resolve(deliver)
      return
    }
    deliver()
  }
  return { relay, held: held.promise }
}

for (const echo of [true, false]) {
  t.test(`a timeout fails with FST_PYWATT_SERVICE, retires the connection, and its late result is dropped (${echo ? 'echo' : 'arrival order'})`, async (t) => {
    // The relay picks the result to hold by its echo, then strips the echo when the orchestrator is not to send one.
    const { relay, held } = holdFirst((p) => p.params?.query === 'SELECT 1 AS late')
    const strip: Relay = (m, deliver) => relay(m, () => {
      if (!echo) delete (m as { params?: unknown }).params
      deliver()
    })
    const served = await serveProxied(t, { relay: strip, module: { db: { via: 'orchestrator', pool: { max: 2 }, commandTimeout: 300 }, cache: false } })
    const db = served.app.pywatt.db
    await db.ping()
    const late = db.query('SELECT 1 AS late')
    const err = await late.catch((e: Error) => e) as Error & { code: string }
    t.equal(err.code, 'FST_PYWATT_SERVICE')
    t.match(err.message, /no service_operation_result for 'query' within 300 ms/)
    const retired = ops(served, 'query')[0].connection_id
    const next = db.query('SELECT 2 AS next')
    ;(await held)()
    t.same(await next, [{ next: 2 }], 'the next operation gets its own answer, not the late one')
    t.same(await db.query('SELECT 3 AS after'), [{ after: 3 }])
    t.ok(ops(served, 'close').some((l) => l.connection_id === retired), 'the timed-out connection is closed')
    t.notOk(ops(served).slice(ops(served).findIndex((l) => l.operation === 'close')).some((l) => l.connection_id === retired && l.operation !== 'close'), 'nothing more is sent on the retired connection')
    t.equal(served.orch.ops('service_request').length, 3, 'a fresh connection replaced it')
  })
}

t.test('a refused service_request fails the start with a clear error', async (t) => {
  const err = await serveProxied(t, { services: { databaseUrl: false }, module: { db: { via: 'orchestrator' }, cache: false } }).catch((e: Error) => e) as Error & { code: string }
  t.equal(err.code, 'FST_PYWATT_SERVICE')
  t.match(err.message, /Orchestrator service Database failed: the dev orchestrator does not serve "Database"/)
})

t.test('settings of a connection of its own are refused next to via: orchestrator', async (t) => {
  const err = await serveProxied(t, { module: { db: { via: 'orchestrator', url: 'sqlite::memory:', pool: { min: 1 } }, cache: false } }).catch((e: Error) => e) as Error & { code: string }
  t.equal(err.code, 'FST_PYWATT_DB_CONFIG')
  t.match(err.message, /db\.url cannot be used with db\.via 'orchestrator'/)
  const orphan = await serveProxied(t, { module: { db: { commandTimeout: 100 }, cache: { pool: { max: 2 } } } }).catch((e: Error) => e) as Error & { code: string }
  t.equal(orphan.code, 'FST_PYWATT_DB_CONFIG')
  t.match(orphan.message, /db\.commandTimeout applies to via 'orchestrator' only/)
  const migrations = await serveProxied(t, { module: { db: { via: 'orchestrator', migrations: './migrations' }, cache: false } }).catch((e: Error) => e) as Error & { code: string }
  t.equal(migrations.code, 'FST_PYWATT_DB_CONFIG')
  t.match(migrations.message, /db\.migrations cannot be used with db\.via 'orchestrator'/)
})

t.test('a transaction holds its connection from begin to commit (PostgreSQL behind the dev orchestrator)', async (t) => {
  if (!await requireServer(t, 'PostgreSQL', '127.0.0.1', 5432)) return
  const served = await serveProxied(t, {
    services: { databaseUrl: 'postgres://postgres@127.0.0.1:5432/test' },
    module: { db: { via: 'orchestrator', dialect: 'postgres', pool: { max: 2 } }, cache: false }
  })
  const db = served.app.pywatt.db
  const table = unique('pw_proxied')
  await db.execute(`CREATE TABLE ${table} (v INTEGER)`)
  t.after(() => db.execute(`DROP TABLE ${table}`).catch(() => {}))
  const inside = deferred()
  const finish = deferred()
  const running = db.transaction(async (tx) => {
    await tx.execute(`INSERT INTO ${table} (v) VALUES ($1)`, [1])
    inside.resolve()
    await finish.promise
    await tx.execute(`INSERT INTO ${table} (v) VALUES ($1)`, [2])
  })
  await inside.promise
  const outside = await Promise.all(Array.from({ length: 6 }, async (_, i) => await db.queryOne<{ i: number }>('SELECT $1::int AS i', [i])))
  t.same(outside.map((r) => r?.i), [0, 1, 2, 3, 4, 5], 'the other connection serves the rest meanwhile')
  finish.resolve()
  await running
  const begin = ops(served, 'begin_transaction')[0]
  const txOps = ops(served).filter((l) => l.params?.transaction_id !== undefined)
  t.same(txOps.map((l) => l.operation), ['transaction_execute', 'transaction_execute', 'transaction_commit'])
  t.ok(txOps.every((l) => l.connection_id === begin.connection_id), 'every statement on the connection of begin_transaction')
  t.notOk(ops(served, 'query').some((l) => l.connection_id === begin.connection_id), 'no other statement on it meanwhile')
  t.same(await db.query(`SELECT v FROM ${table} ORDER BY v`), [{ v: 1 }, { v: 2 }])
})

t.test('closing lets the operation in flight finish before its connection is closed', async (t) => {
  const served = await serveProxied(t, { module: { db: { via: 'orchestrator', pool: { max: 1 } }, cache: false } })
  const db = served.app.pywatt.db
  const running = db.query('SELECT 1 AS one')
  await db.close()
  t.same(await running, [{ one: 1 }])
  await served.orch.waitFor((l) => l.operation === 'close')
  t.same(ops(served).map((l) => l.operation), ['query', 'close'], 'close was sent after the query was answered')
  await t.rejects(db.query('SELECT 1'), { code: 'FST_PYWATT_DB_CLOSED' })
})
