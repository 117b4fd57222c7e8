import type { Test } from 'tap'
import { createDatabase, createDriver, resolveDatabaseConfig, type Database, type DatabaseOptions } from '../../lib/db/index.js'
import type { Driver } from '../../lib/db/types.js'
import { deferred, sleep, unique } from './helpers.js'

interface Row { id: number, name: string, data: Buffer | null }

const DDL = {
  postgres: (t: string) => `CREATE TABLE ${t} (id SERIAL PRIMARY KEY, name TEXT NOT NULL, data BYTEA)`,
  mysql: (t: string) => `CREATE TABLE ${t} (id INT AUTO_INCREMENT PRIMARY KEY, name LONGTEXT NOT NULL, data LONGBLOB) CHARACTER SET utf8mb4`,
  sqlite: (t: string) => `CREATE TABLE ${t} (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, data BLOB)`
}

// Kill the transaction's own connection: COMMIT/ROLLBACK then fail.
const SUICIDE = {
  postgres: 'SELECT pg_terminate_backend(pg_backend_pid())',
  mysql: 'KILL CONNECTION_ID()',
  sqlite: ''
}

/** The server's id of the current connection, and how many of the given ids are still connected. */
const CONNECTION = {
  postgres: {
    id: 'SELECT pg_backend_pid() AS id, pg_sleep(0.2)::text AS slept',
    count: (ids: number[]) => `SELECT count(*) AS n FROM pg_stat_activity WHERE pid IN (${ids.join(', ')})`
  },
  mysql: {
    id: 'SELECT CONNECTION_ID() AS id, SLEEP(0.2) AS slept',
    count: (ids: number[]) => `SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE ID IN (${ids.join(', ')})`
  },
  sqlite: { id: '', count: () => '' } // one connection, never closed for idling
}

const SLEEP = {
  postgres: 'SELECT pg_sleep(0.3) AS slept',
  mysql: 'SELECT SLEEP(0.3) AS slept',
  sqlite: 'SELECT 1 AS slept'
}

/** How a backend's databases and drivers are made from options (by default, our own drivers'). */
export interface DbFactory {
  database: (options: DatabaseOptions) => Database
  driver: (options: DatabaseOptions) => Driver
}

const OWN_DRIVERS: DbFactory = { database: createDatabase, driver: (o) => createDriver(resolveDatabaseConfig(o)) }

/** The behaviour every database backend must share. */
export function dbContract (t: Test, options: DatabaseOptions, factory: DbFactory = OWN_DRIVERS): void {
  const open = (extra: DatabaseOptions = {}): Database => {
    const db = factory.database({ ...options, ...extra })
    t.after(() => db.close())
    return db
  }
  const withTable = async (t: Test, db: Database): Promise<{ table: string, insert: string }> => {
    const table = unique('pw_items')
    await db.execute(DDL[db.dialect](table))
    t.after(() => db.execute(`DROP TABLE ${table}`).catch(() => {}))
    return { table, insert: `INSERT INTO ${table} (name, data) VALUES (${db.placeholder(1)}, ${db.placeholder(2)})` }
  }

  t.test('ping, execute, query, queryOne', async (t) => {
    const db = open()
    await db.ping()
    const { table, insert } = await withTable(t, db)
    const a = await db.execute(insert, ['a', null])
    t.equal(a.rowsAffected, 1)
    if (db.dialect === 'postgres') t.equal(a.lastInsertId, undefined, 'postgres: use RETURNING')
    else t.equal(a.lastInsertId, 1)
    await db.execute(insert, ['b', null])
    const rows = await db.query<Row>(`SELECT id, name FROM ${table} ORDER BY id`)
    t.same(rows.map((r) => r.name), ['a', 'b'])
    const one = await db.queryOne<Row>(`SELECT name FROM ${table} WHERE name = ${db.placeholder(1)}`, ['b'])
    t.equal(one?.name, 'b')
    t.equal(await db.queryOne(`SELECT name FROM ${table} WHERE name = ${db.placeholder(1)}`, ['zz']), undefined)
    const upd = await db.execute(`UPDATE ${table} SET name = ${db.placeholder(1)}`, ['c'])
    t.equal(upd.rowsAffected, 2)
    t.same(await db.query(`UPDATE ${table} SET name = ${db.placeholder(1)}`, ['d']), [], 'query of a statement without rows')
    t.same(await db.execute(`SELECT name FROM ${table}`), { rowsAffected: 0 }, 'execute of a SELECT')
    // A value that would break concatenated SQL is only ever bound.
    await db.execute(insert, ["x'); DROP TABLE nope; --", null])
    t.equal((await db.queryOne<Row>(`SELECT name FROM ${table} WHERE name LIKE ${db.placeholder(1)}`, ['x%']))?.name, "x'); DROP TABLE nope; --")
  })

  t.test('non-ASCII, binary and 1 MiB values round-trip', async (t) => {
    const db = open()
    const { table, insert } = await withTable(t, db)
    const text = 'héllo wörld — 日本語 — 🦀🐍'
    const binary = Buffer.from([0, 1, 2, 0xff, 0xfe, 0x80, 0x7f, 0])
    const big = Buffer.alloc(1024 * 1024, 0xab)
    const bigText = 'é'.repeat(512 * 1024)
    await db.execute(insert, [text, binary])
    await db.execute(insert, [bigText, big])
    const rows = await db.query<Row>(`SELECT name, data FROM ${table} ORDER BY id`)
    t.equal(rows[0].name, text)
    t.ok(Buffer.isBuffer(rows[0].data))
    t.ok(binary.equals(rows[0].data as Buffer))
    t.equal(rows[1].name, bigText)
    t.ok(big.equals(rows[1].data as Buffer))
  })

  t.test('transactions commit, roll back on throw, and run concurrently', async (t) => {
    const db = open()
    const { table, insert } = await withTable(t, db)
    const value = await db.transaction(async (tx) => {
      await tx.execute(insert, ['kept', null])
      t.equal((await tx.queryOne<Row>(`SELECT name FROM ${table}`))?.name, 'kept')
      t.equal((await tx.query(`SELECT name FROM ${table}`)).length, 1)
      return 42
    })
    t.equal(value, 42)
    const boom = new Error('boom')
    let leaked: { execute: (s: string) => Promise<unknown> } | undefined
    await t.rejects(db.transaction(async (tx) => {
      leaked = tx
      await tx.execute(insert, ['lost', null])
      throw boom
    }), boom, 'the body error is rethrown as is')
    t.same((await db.query<Row>(`SELECT name FROM ${table}`)).map((r) => r.name), ['kept'])
    await t.rejects(leaked!.execute('SELECT 1'), { code: 'FST_PYWATT_DB_CLOSED' }, 'a handle is dead after its transaction')
    await t.rejects(db.transaction(async (tx) => { await tx.execute('THIS IS NOT SQL') }), { code: 'FST_PYWATT_DB_QUERY' })

    await Promise.all(Array.from({ length: 8 }, (_, i) => db.transaction(async (tx) => {
      await tx.execute(insert, [`c${i}`, null])
      await sleep(5)
      await tx.execute(insert, [`d${i}`, null])
    })))
    const count = await db.queryOne<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${table}`)
    t.equal(Number(count?.n), 17)
  })

  t.test('driver errors are FST_PYWATT_DB_QUERY with the cause', async (t) => {
    const db = open()
    const err = await db.query('SELEKT nothing').catch((e: Error) => e) as Error & { code: string, cause: Error }
    t.equal(err.code, 'FST_PYWATT_DB_QUERY')
    t.ok(err.cause instanceof Error)
    t.equal(err.message, `Database error: ${err.cause.message}`)
  })

  t.test('pool exhaustion fails with a clear timeout', async (t) => {
    const db = open({ pool: { max: 1, acquireTimeout: 200 } })
    const hold = deferred()
    const entered = deferred()
    const holder = db.transaction(async (tx) => {
      await tx.query('SELECT 1 AS one')
      entered.resolve()
      await hold.promise
    })
    await entered.promise
    const started = Date.now()
    const err = await db.query('SELECT 1 AS one').catch((e: Error) => e) as Error & { code: string }
    t.equal(err.code, 'FST_PYWATT_DB_POOL_TIMEOUT')
    t.match(err.message, /within 200 ms/)
    t.ok(Date.now() - started >= 150)
    await t.rejects(db.transaction(async () => {}), { code: 'FST_PYWATT_DB_POOL_TIMEOUT' })
    hold.resolve()
    await holder
    t.same(await db.query('SELECT 1 AS one'), [{ one: 1 }])
  })

  t.test('pool.idleTimeout: connections idle that long are closed on the server, and the pool opens new ones when asked', async (t) => {
    const db = open({ pool: { max: 3, idleTimeout: 3000 } })
    if (db.dialect === 'sqlite') return
    // Three statements at once hold three connections; each says which server connection it is.
    const ids = (await Promise.all([0, 1, 2].map(async () => await db.queryOne<{ id: number | string }>(CONNECTION[db.dialect].id))))
      .map((row) => Number(row?.id))
    t.equal(new Set(ids).size, 3, 'three connections')
    const connected = async (): Promise<number> => {
      const probe = factory.database({ ...options, pool: { max: 1 } })
      try {
        const row = await probe.queryOne<{ n: number | string }>(CONNECTION[db.dialect].count(ids))
        return Number(row?.n)
      } finally {
        await probe.close()
      }
    }
    t.equal(await connected(), 3, 'open on the server while idle for less than idleTimeout')
    const until = Date.now() + 10_000
    while (await connected() > 0 && Date.now() < until) await sleep(200)
    t.equal(await connected(), 0, 'all three closed')
    t.equal(db.poolStats()?.total, 0)
    t.same(await db.query('SELECT 1 AS one'), [{ one: 1 }], 'a new connection serves the next query')
  })

  t.test('replace() swaps the pool without failing running work', async (t) => {
    const db = open()
    const hold = deferred()
    const running = db.transaction(async (tx) => {
      await tx.query(SLEEP[db.dialect])
      await hold.promise
      return (await tx.queryOne<{ one: number }>('SELECT 1 AS one'))?.one
    })
    const slow = db.query(SLEEP[db.dialect])
    await sleep(20)
    db.replace(factory.driver({ ...options, pool: { max: 2 } }))
    hold.resolve()
    t.equal(await running, 1, 'the transaction on the old pool finished')
    t.equal((await slow).length, 1, 'the query on the old pool finished')
    await db.ping()
    // An idle old pool is closed at once.
    db.replace(factory.driver(options))
    await db.ping()
  })

  t.test('a connection lost inside a transaction is reported and not reused', async (t) => {
    const db = open({ pool: { max: 1 } })
    if (db.dialect === 'sqlite') return
    const lost = await db.transaction(async (tx) => { await tx.query(SUICIDE[db.dialect]).catch(() => {}) }).catch((e: Error) => e) as Error & { code: string }
    t.equal(lost.code, 'FST_PYWATT_DB_QUERY', 'the failed COMMIT is reported')
    await t.rejects(db.transaction(async (tx) => {
      await tx.query(SUICIDE[db.dialect]).catch(() => {})
      throw new Error('body failed')
    }), /body failed/, 'a failed ROLLBACK does not hide the body error')
    t.same(await db.query('SELECT 1 AS one'), [{ one: 1 }], 'the pool recovers with a new connection')
  })

  t.test('an unreachable server fails with FST_PYWATT_DB_QUERY', async (t) => {
    if (options.url === undefined || options.url.startsWith('sqlite')) return
    const db = createDatabase({ ...options, url: options.url!.replace(/:\d+\//, ':1/'), pool: { acquireTimeout: 2000 } })
    t.after(() => db.close())
    await t.rejects(db.query('SELECT 1'), { code: 'FST_PYWATT_DB_QUERY' })
    await t.rejects(db.transaction(async () => {}), { code: 'FST_PYWATT_DB_QUERY' })
  })

  t.test('a URL without a database name, execute errors, closing a driver twice', async (t) => {
    const db = open()
    await t.rejects(db.execute('SELEKT nothing'), { code: 'FST_PYWATT_DB_QUERY' })
    const driver = factory.driver(options)
    await driver.close()
    await driver.close()
    if (db.dialect === 'sqlite') return
    const bare = open({ url: options.url!.replace(/\/test$/, '') })
    await bare.ping()
  })

  t.test('close() ends the pool; later calls fail clearly', async (t) => {
    const db = factory.database(options)
    await db.ping()
    await db.close()
    await db.close()
    await t.rejects(db.query('SELECT 1'), { code: 'FST_PYWATT_DB_CLOSED' })
    await t.rejects(db.transaction(async () => {}), { code: 'FST_PYWATT_DB_CLOSED' })
    t.throws(() => db.replace(factory.driver(options)), { code: 'FST_PYWATT_DB_CLOSED' })
  })
}
