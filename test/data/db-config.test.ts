import { resolve } from 'node:path'
import t from 'tap'
import { secretRegistry } from '../../lib/logging/registry.js'
import { createDatabase, dataDirectory, parseDatabaseUrl, resolveDatabaseConfig, DEFAULT_POOL } from '../../lib/db/index.js'
import { TimedLock } from '../../lib/db/common.js'

t.test('URLs are parsed with the WHATWG parser; percent-encoded credentials work', async (t) => {
  const pw = 'p@ss:w/rd#Ü%x-db-secret'
  const url = `postgresql://us%40er:${encodeURIComponent(pw)}@db.example:6543/my%20db`
  t.same(parseDatabaseUrl(url), { dialect: 'postgres', host: 'db.example', port: 6543, user: 'us@er', password: pw, database: 'my db' })
  t.equal(secretRegistry.scrub(`connecting with ${pw}`), 'connecting with [REDACTED]', 'the decoded password is scrubbed')
  t.same(parseDatabaseUrl('mariadb://[::1]/test'), { dialect: 'mysql', host: '::1', database: 'test' })
  t.same(parseDatabaseUrl('mysql://h'), { dialect: 'mysql', host: 'h' })
  t.same(parseDatabaseUrl('sqlite::memory:'), { dialect: 'sqlite', filename: ':memory:' })
  t.same(parseDatabaseUrl('sqlite:app.db'), { dialect: 'sqlite', filename: 'app.db' })
  t.same(parseDatabaseUrl('sqlite:///var/lib/x%20y.db'), { dialect: 'sqlite', filename: '/var/lib/x y.db' })
  t.same(parseDatabaseUrl('sqlite://sub/x.db'), { dialect: 'sqlite', filename: 'sub/x.db' })
})

t.test('bad URLs never echo the URL', async (t) => {
  const secret = 'hunter2-very-secret'
  for (const url of [`postgres://u:${secret}@[bad`, `redis://u:${secret}@h/0`, `postgres://u:%E0%A4%A@h/${secret}`, `postgres://u:${secret}@h/%E0%A4%A`]) {
    const err = (() => { try { parseDatabaseUrl(url) } catch (e) { return e as Error & { code: string, cause?: unknown } } })()!
    t.equal(err.code, 'FST_PYWATT_DB_CONFIG')
    t.notMatch(err.message, secret)
    t.equal(err.cause, undefined)
  }
})

t.test('defaults and explicit fields', async (t) => {
  const env = { PYWATT_DATA_DIR: '/srv/data' }
  const c = resolveDatabaseConfig({}, env)
  t.equal(c.dialect, 'sqlite')
  t.equal(c.filename, '/srv/data/pywatt.sqlite')
  t.same(c.pool, DEFAULT_POOL)
  t.equal(dataDirectory(undefined, {}), resolve('data'))
  t.equal(resolveDatabaseConfig({ filename: '/abs.db' }).filename, '/abs.db')
  t.equal(resolveDatabaseConfig({ filename: '' }).filename, ':memory:')
  const p = resolveDatabaseConfig({ url: 'postgres://a:b-long-pw@h/d', user: 'other', password: 'explicit-pw', pool: { max: 3 } })
  t.same({ ...p, pool: p.pool.max }, { dialect: 'postgres', host: 'h', port: 5432, user: 'other', password: 'explicit-pw', database: 'd', filename: '', pool: 3 })
  t.equal(secretRegistry.scrub('explicit-pw'), '[REDACTED]')
  const m = resolveDatabaseConfig({ dialect: 'mysql' })
  t.same([m.host, m.port, m.user, m.password, m.database], ['127.0.0.1', 3306, 'root', '', ''])
  t.throws(() => resolveDatabaseConfig({ pool: { max: 0 } }), { code: 'FST_PYWATT_DB_CONFIG', message: /pool.max/ })
  t.throws(() => resolveDatabaseConfig({ pool: { acquireTimeout: 1.5 } }), { code: 'FST_PYWATT_DB_CONFIG' })
  t.throws(() => resolveDatabaseConfig({ dialect: 'oracle' as 'mysql' }), { code: 'FST_PYWATT_DB_CONFIG', message: /oracle/ })
})

t.test('sqlite: an unopenable file is a DB error; booleans, dates and undefined bind', async (t) => {
  const dir = t.testdir({ 'a-file': 'x' })
  t.throws(() => createDatabase({ filename: 'a-file/here.db', dataDir: dir }), { code: 'FST_PYWATT_DB_QUERY' })
  const db = createDatabase({ filename: ':memory:' })
  t.after(() => db.close())
  const when = new Date('2026-01-02T03:04:05.000Z')
  t.same(await db.query('SELECT ? AS b, ? AS f, ? AS d, ? AS u', [true, false, when, undefined]), [{ b: 1, f: 0, d: when.toISOString(), u: null }])
  await db.execute('CREATE TABLE big (id INTEGER PRIMARY KEY)')
  t.same(await db.execute('INSERT INTO big (id) VALUES (?)', [2n ** 40n]), { rowsAffected: 1, lastInsertId: 2 ** 40 })
  // The statement cache stays bounded.
  for (let i = 0; i < 300; i++) await db.query(`SELECT ${i} AS n`)
  t.same(await db.query('SELECT 0 AS n'), [{ n: 0 }])
  // The last statement, kept apart from the cache, answers only its own SQL.
  t.same(await db.query('SELECT 0 AS n'), [{ n: 0 }])
  t.same(await db.query('SELECT 299 AS n'), [{ n: 299 }])
  t.same(await db.query('SELECT 0 AS n'), [{ n: 0 }])
  await t.rejects(db.execute('SELEKT'), { code: 'FST_PYWATT_DB_QUERY' })
  // A failing COMMIT (deferred foreign key) rolls back and reports.
  await db.execute('CREATE TABLE p (id INTEGER PRIMARY KEY)')
  await db.execute('CREATE TABLE c (pid INTEGER REFERENCES p(id) DEFERRABLE INITIALLY DEFERRED)')
  await t.rejects(db.transaction(async (tx) => { await tx.execute('INSERT INTO c VALUES (1)') }), { code: 'FST_PYWATT_DB_QUERY' })
  t.same(await db.query('SELECT * FROM c'), [])
  // A body that ended the transaction itself still rolls back cleanly.
  await t.rejects(db.transaction(async (tx) => { await tx.execute('ROLLBACK'); throw new Error('after') }), /after/)
  await t.rejects(db.transaction(async (tx) => { await tx.execute('ROLLBACK') }), { code: 'FST_PYWATT_DB_QUERY' })
})

t.test('sqlite: work after close fails clearly', async (t) => {
  const db = createDatabase({ filename: ':memory:' })
  const { SqliteDriver } = await import('../../lib/db/sqlite.js')
  const driver = new SqliteDriver(resolveDatabaseConfig({ filename: ':memory:' }))
  await driver.close()
  await driver.close()
  await t.rejects(driver.query('SELECT 1', []), { code: 'FST_PYWATT_DB_CLOSED' })
  await t.rejects(driver.transaction(async () => {}), { code: 'FST_PYWATT_DB_CLOSED' })
  await db.close()
})

t.test('TimedLock hands over in order', async (t) => {
  const lock = new TimedLock()
  await lock.acquire(10)
  const order: number[] = []
  const a = lock.acquire(1000).then(() => { order.push(1); lock.release() })
  const b = lock.acquire(1000).then(() => { order.push(2); lock.release() })
  lock.release()
  await Promise.all([a, b])
  t.same(order, [1, 2])
  t.equal(lock.held, false)
})

t.test('dbError keeps ours; a failing close of a replaced pool is logged, not thrown', async (t) => {
  const { dbError } = await import('../../lib/db/common.js')
  const { Database } = await import('../../lib/db/database.js')
  const { ERR_PYWATT_DB_CLOSED } = await import('../../lib/errors.js')
  const ours = new ERR_PYWATT_DB_CLOSED('x')
  t.equal(dbError(ours), ours)
  t.equal((dbError(new Error('driver')) as Error & { code: string }).code, 'FST_PYWATT_DB_QUERY')
  const warnings: unknown[] = []
  const log = { warn: (...args: unknown[]) => { warnings.push(args) } } as unknown as import('fastify').FastifyBaseLogger
  const failing = {
    dialect: 'sqlite' as const,
    query: async () => [],
    execute: async () => ({ rowsAffected: 0 }),
    transaction: async <R>(body: (tx: never) => Promise<R>) => body(undefined as never),
    session: async <R>(body: (session: never) => Promise<R>) => body(undefined as never),
    ping: async () => {},
    close: async () => { throw new Error('close failed') }
  }
  const db = new Database(failing, log)
  const { SqliteDriver } = await import('../../lib/db/sqlite.js')
  db.replace(new SqliteDriver(resolveDatabaseConfig({ filename: ':memory:' })))
  await db.close()
  t.equal(warnings.length, 1)
})
