import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import Fastify from 'fastify'
import pywatt from '../../plugins/index.js'
import { createDatabase, resolveDatabaseConfig, type Database } from '../../lib/db/index.js'
import { mysqlSsl, pgSsl } from '../../lib/db/tls.js'
import { FakeOrchestrator, until } from '../helpers/fake-orchestrator.js'
import { captureLogger } from '../helpers/log-capture.js'
import { requireServer, unique } from './helpers.js'

/** Where .ci/tls-setup puts the test CA, client certificate and key. */
const TLS_DIR = '/var/lib/pywatt-ci-tls'
const CA = join(TLS_DIR, 'ca.crt')
const CLIENT_CERT = join(TLS_DIR, 'client.crt')
const CLIENT_KEY = join(TLS_DIR, 'client.key')

/**
 * True when the server is up and serves TLS with the CI certificates. Under
 * CI=true a missing setup fails the run (like requireServer); otherwise the
 * tests are skipped loudly.
 */
async function requireTls (t: Test, name: string, port: number, serves: () => Promise<boolean>): Promise<boolean> {
  if (!await requireServer(t, name, '127.0.0.1', port)) return false
  let reason: string | undefined
  if (!existsSync(CA)) reason = `${CA} is missing`
  else if (!await serves().catch(() => false)) reason = `${name} does not serve TLS`
  if (reason === undefined) return true
  reason = `${reason}: run .ci/tls-setup`
  if (process.env.CI === 'true') {
    t.fail(`${reason} (CI=true: TLS must be tested)`)
  } else {
    process.stderr.write(`\n*** SKIPPING ${name} TLS tests: ${reason} ***\n\n`)
    t.test(`SKIPPED: ${reason}`, { skip: reason }, async () => {})
  }
  return false
}

async function using<R> (t: Test, db: Database, work: (db: Database) => Promise<R>): Promise<R> {
  t.teardown(() => db.close())
  return await work(db)
}

const config = (url: string, extra: object = {}): ReturnType<typeof resolveDatabaseConfig> => resolveDatabaseConfig({ url, ...extra })

t.test('URL parameters: an unknown one is refused by name, never dropped', async (t) => {
  t.throws(() => config('postgres://u:pw-hidden-1@h/d?foo=1'), { code: 'FST_PYWATT_DB_CONFIG', message: /'foo'.*PostgreSQL takes sslmode/ })
  t.throws(() => config('mysql://h/d?sslmode=require'), { code: 'FST_PYWATT_DB_CONFIG', message: /'sslmode'.*did you mean 'ssl-mode'/ })
  t.throws(() => config('postgres://h/d?ssl-mode=REQUIRED'), { message: /'ssl-mode'.*did you mean 'sslmode'/ })
  t.throws(() => config('mysql://h/d?ssl={"rejectUnauthorized":false}'), { message: /'ssl'/ })
  t.throws(() => config('sqlite:app.db?mode=ro'), { code: 'FST_PYWATT_DB_CONFIG', message: /'mode'.*SQLite takes none/ })
  t.throws(() => config('postgres://h/d?sslmode=require&sslmode=disable'), { message: /'sslmode' is given twice/ })
  t.throws(() => config('mysql://h/d?ssl-mode=REQUIRED&ssl_mode=DISABLED'), { message: /'ssl-mode' is given twice/ })
  t.throws(() => config('postgres://h/d', { params: { nope: 'x' } }), { message: /'nope'/ }, 'the params option is checked alike')
  for (const url of ['postgres://u:pw-hidden-1@h/d?foo=1', 'postgres://u:pw-hidden-1@h/d?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem']) {
    const err = (() => { try { config(url) } catch (e) { return e as Error } })()!
    t.notMatch(err.message, 'pw-hidden-1', 'no error repeats the password')
  }
})

t.test('PostgreSQL sslmode: each mode, files read at configuration time', async (t) => {
  const dir = t.testdir({ 'ca.pem': 'CA-PEM', 'c.pem': 'CERT-PEM', 'k.pem': 'KEY-PEM' })
  const ca = join(dir, 'ca.pem')
  t.equal(config('postgres://h/d').tls, undefined, 'unsaid: pg keeps its default')
  t.same(config('postgres://h/d?sslmode=disable').tls, { mode: 'disable' })
  t.equal(pgSsl(config('postgres://h/d?sslmode=disable').tls), false)
  t.same(pgSsl(config('postgres://h/d?sslmode=require').tls), { rejectUnauthorized: false })
  t.same(pgSsl(config('postgres://h/d?sslmode=VERIFY-FULL').tls), { rejectUnauthorized: true }, 'values are case-insensitive')
  const full = pgSsl(config(`postgres://h/d?sslmode=verify-full&sslrootcert=${ca}&sslcert=${join(dir, 'c.pem')}&sslkey=${join(dir, 'k.pem')}&sslpassword=key-pass-xyz`).tls) as Record<string, unknown>
  t.same([String(full.ca), String(full.cert), String(full.key), full.passphrase, full.rejectUnauthorized, full.checkServerIdentity], ['CA-PEM', 'CERT-PEM', 'KEY-PEM', 'key-pass-xyz', true, undefined])
  const vca = pgSsl(config(`postgres://h/d?sslmode=verify-ca&sslrootcert=${ca}`).tls) as Record<string, unknown>
  t.equal(vca.rejectUnauthorized, true)
  t.type(vca.checkServerIdentity, 'function', 'verify-ca skips the host name check')
  t.equal(config(`postgres://h/d?sslmode=require&sslrootcert=${ca}`).tls?.mode, 'verify-ca', "libpq's rule: require with a root certificate verifies it")
  t.equal(config(`postgres://h/d?sslrootcert=${ca}`).tls?.mode, 'verify-full', 'a root certificate without a mode verifies everything')
  t.same(pgSsl(config('postgres://h/d?sslrootcert=system').tls), { rejectUnauthorized: true }, "sslrootcert=system: Node's CAs")
  t.equal(config('postgres://h/d?application_name=orders').applicationName, 'orders')
  t.throws(() => config('postgres://h/d?sslmode=prefer'), { message: /sslmode=prefer is not supported.*require or disable/ })
  t.throws(() => config('postgres://h/d?sslmode=allow'), { message: /sslmode=allow is not supported/ })
  t.throws(() => config('postgres://h/d?sslmode=bogus'), { message: /sslmode 'bogus' is not one of disable, require, verify-ca, verify-full/ })
  t.throws(() => config(`postgres://h/d?sslmode=disable&sslrootcert=${ca}`), { message: /sslmode=disable conflicts with sslrootcert/ })
  t.throws(() => config('postgres://h/d?sslmode=disable', { tls: { ca: 'x' } }), { message: /conflicts with the tls option/ })
  t.throws(() => config(`postgres://h/d?sslcert=${ca}`), { message: /sslcert needs sslkey/ })
  t.throws(() => config(`mysql://h/d?ssl-key=${ca}`), { message: /ssl-key needs ssl-cert/ })
  t.throws(() => config('postgres://h/d?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem'), { code: 'FST_PYWATT_DB_CONFIG', message: /sslrootcert \(\/nonexistent\/ca.pem\): ENOENT/ })
  t.throws(() => config('postgres://h/d?sslrootcert='), { message: /sslrootcert is empty/ })
})

t.test('MySQL ssl-mode: case-insensitive names and values, mysql2 options', async (t) => {
  const dir = t.testdir({ 'ca.pem': 'CA-PEM' })
  const ca = join(dir, 'ca.pem')
  t.equal(config('mysql://h/d').tls, undefined)
  t.equal(mysqlSsl(config('mysql://h/d?ssl-mode=DISABLED').tls), undefined)
  t.same(mysqlSsl(config('mysql://h/d?ssl-mode=required').tls), { rejectUnauthorized: false, verifyIdentity: false })
  t.same(mysqlSsl(config(`mariadb://h/d?SSL_MODE=Verify_CA&ssl_ca=${ca}`).tls), { ca: Buffer.from('CA-PEM'), rejectUnauthorized: true, verifyIdentity: false })
  t.same(mysqlSsl(config(`mysql://h/d?ssl-mode=VERIFY_IDENTITY&ssl-ca=${ca}`).tls), { ca: Buffer.from('CA-PEM'), rejectUnauthorized: true, verifyIdentity: true })
  t.equal(config(`mysql://h/d?ssl-ca=${ca}`).tls?.mode, 'verify-ca', "MySQL's rule: a CA without a mode verifies the CA")
  t.equal(config(`mysql://h/d?ssl-mode=REQUIRED&ssl-ca=${ca}`).tls?.mode, 'require', 'REQUIRED stays unverified, as in MySQL')
  t.throws(() => config('mysql://h/d?ssl-mode=PREFERRED'), { message: /ssl-mode=PREFERRED is not supported.*REQUIRED or DISABLED/ })
  t.throws(() => config('mysql://h/d?ssl-mode=on'), { message: /ssl-mode 'on' is not one of DISABLED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY/ })
  t.throws(() => config('mysql://h/d?ssl-ca=/nonexistent/ca.pem'), { message: /ssl-ca \(\/nonexistent\/ca.pem\): ENOENT/ })
})

t.test('the tls option and params: explicit wins, Buffers kept', async (t) => {
  const ca = Buffer.from('BUFFER-CA')
  const tls = config('postgres://h/d', { tls: { ca } }).tls!
  t.equal(tls.mode, 'verify-full', 'tls alone turns TLS on, verified')
  t.equal(tls.options?.ca, ca)
  t.equal(config('postgres://h/d?sslmode=require', { tls: { ca } }).tls?.options?.rejectUnauthorized, false, 'the URL still gives the mode')
  t.equal(config('postgres://h/d?sslmode=verify-full', { tls: { rejectUnauthorized: false } }).tls?.options?.rejectUnauthorized, false, 'tls fields win')
  t.same(mysqlSsl(config('mysql://h/d', { tls: { ca, servername: 'ignored', minVersion: 'TLSv1.3' } }).tls), { ca, minVersion: 'TLSv1.3', rejectUnauthorized: true, verifyIdentity: true })
  t.equal(config('postgres://h/d?sslmode=disable', { params: { sslmode: 'require' } }).tls?.mode, 'require', 'params win over the URL by name')
  t.same(mysqlSsl(config('mysql://h/d?ssl-mode=VERIFY_IDENTITY', { tls: { rejectUnauthorized: false } }).tls), { rejectUnauthorized: false, verifyIdentity: false })
  t.throws(() => resolveDatabaseConfig({ filename: ':memory:', tls: {} }), { message: /does not apply to SQLite/ })
  t.throws(() => config('postgres://h/d', { tls: 'x' as never }), { message: /tls option must be an object/ })
})

t.test('driver TLS errors say what to do; a server named by host or dialect gets a readiness check', async (t) => {
  const { dbError } = await import('../../lib/db/common.js')
  const { readinessChecks } = await import('../../lib/health/checks.js')
  const err = (code: string, message: string): Error => Object.assign(new Error(message), { code })
  t.match(dbError(err('HANDSHAKE_NO_SSL_SUPPORT', 'Server does not support secure connection')).message, /TLS: Server does not support/)
  t.match(dbError(err('HANDSHAKE_SSL_ERROR', 'self-signed certificate')).message, /not accepted.*ssl-ca/)
  t.match(dbError(err('HANDSHAKE_SSL_ERROR', 'wrong version number')).message, /^Database error: wrong version number$/)
  const data = { db: { ping: async () => {} }, cache: { kind: 'memory', ping: async () => {} } }
  for (const db of [{ host: 'h' }, { passwordSecret: 'P' }, { dialect: 'mysql' }]) t.same(readinessChecks(data, { db }).map((c) => c.name), ['db'])
  t.same(readinessChecks(data, { db: { dialect: 'sqlite' } }), [])
})

t.test('pool: min, maxLifetime', async (t) => {
  const p = config('postgres://h/d', { pool: { min: 2, max: 4, maxLifetime: 60_000 } }).pool
  t.same([p.min, p.max, p.maxLifetime], [2, 4, 60_000])
  t.throws(() => config('postgres://h/d', { pool: { min: 5, max: 4 } }), { code: 'FST_PYWATT_DB_CONFIG', message: /pool.min \(5\) is above pool.max \(4\)/ })
  t.throws(() => config('postgres://h/d', { pool: { min: -1 } }), { message: /pool.min must be a non-negative integer/ })
  t.throws(() => config('mysql://h/d', { pool: { min: 1 } }), { message: /pool.min is not supported on MySQL/ })
  t.equal(config('mysql://h/d', { pool: { min: 0, maxLifetime: 1000 } }).pool.maxLifetime, 1000)
})

async function pgTlsState (db: Database): Promise<{ ssl: boolean, client_dn: string | null }> {
  return (await db.queryOne<{ ssl: boolean, client_dn: string | null }>('SELECT ssl, client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()'))!
}

t.test('PostgreSQL over TLS', async (t) => {
  const serves = async (): Promise<boolean> => await using(t, createDatabase({ url: 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable' }),
    async (db) => (await db.queryOne<{ ssl: string }>('SHOW ssl'))?.ssl === 'on')
  if (!await requireTls(t, 'PostgreSQL', 5432, serves)) return
  const base = 'postgres://postgres@127.0.0.1:5432/test'

  t.test('verify-full with the CA connects, encrypted; a client certificate is presented', async (t) => {
    const state = await using(t, createDatabase({ url: `${base}?sslmode=verify-full&sslrootcert=${CA}&sslcert=${CLIENT_CERT}&sslkey=${CLIENT_KEY}` }), pgTlsState)
    t.equal(state.ssl, true)
    t.match(state.client_dn, /CN=pywatt-client/)
    const byName = await using(t, createDatabase({ url: `postgres://postgres@localhost:5432/test?sslmode=verify-full&sslrootcert=${CA}` }), pgTlsState)
    t.equal(byName.ssl, true, 'the DNS name of the certificate is checked too')
  })

  t.test('verify-full without the CA is refused clearly', async (t) => {
    await t.rejects(using(t, createDatabase({ url: `${base}?sslmode=verify-full`, pool: { acquireTimeout: 5_000 } }), (db) => db.ping()),
      { code: 'FST_PYWATT_DB_QUERY', message: /TLS: the server's certificate was not accepted \(self-signed certificate in certificate chain\).*sslrootcert/ })
  })

  t.test('a host name the certificate does not name is refused under verify-full, accepted under verify-ca', async (t) => {
    const tls = { servername: 'not-in-the-cert.example' }
    await t.rejects(using(t, createDatabase({ url: `${base}?sslmode=verify-full&sslrootcert=${CA}`, tls }), (db) => db.ping()),
      { code: 'FST_PYWATT_DB_QUERY', message: /TLS: the server's certificate was not accepted.*altnames.*verify-ca/ })
    t.equal((await using(t, createDatabase({ url: `${base}?sslmode=verify-ca&sslrootcert=${CA}`, tls }), pgTlsState)).ssl, true)
  })

  t.test('verify-ca with the CA; require encrypts without verifying; disable stays plaintext', async (t) => {
    t.equal((await using(t, createDatabase({ url: `${base}?sslmode=verify-ca&sslrootcert=${CA}` }), pgTlsState)).ssl, true)
    t.equal((await using(t, createDatabase({ url: `${base}?sslmode=require` }), pgTlsState)).ssl, true)
    t.equal((await using(t, createDatabase({ url: `${base}?sslmode=disable` }), pgTlsState)).ssl, false)
  })

  t.test('the tls option with a Buffer CA, discrete settings', async (t) => {
    const db = createDatabase({ dialect: 'postgres', host: '127.0.0.1', user: 'postgres', database: 'test', tls: { ca: readFileSync(CA) }, pool: { min: 1, maxLifetime: 60_000 } })
    t.equal((await using(t, db, pgTlsState)).ssl, true)
  })

  t.test('an unknown parameter or a bad path refuses the plugin start, naming it', async (t) => {
    for (const [db, pattern] of [
      [{ url: `${base}?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem` }, /sslrootcert/],
      [{ url: `${base}?sslmod=require` }, /'sslmod'/]
    ] as const) {
      const orch = new FakeOrchestrator()
      orch.init()
      const app = Fastify()
      t.teardown(() => app.close())
      await t.rejects(async () => { await app.register(pywatt, { io: orch.io, db }) }, { code: 'FST_PYWATT_DB_CONFIG', message: pattern })
    }
  })

  t.test('root plugin: db.tls (Buffers, outside the JSON schema) with params', async (t) => {
    const orch = new FakeOrchestrator()
    orch.init()
    const app = Fastify()
    t.teardown(() => app.close())
    await app.register(pywatt, { io: orch.io, db: { url: base, params: { sslmode: 'verify-full' }, tls: { ca: readFileSync(CA) } } })
    t.equal((await pgTlsState(app.pywatt.db)).ssl, true)
    const bad = Fastify()
    t.teardown(() => bad.close())
    await t.rejects(async () => { await bad.register(pywatt, { io: new FakeOrchestrator().io, db: { url: base, tls: 'ca.pem' as never } }) }, { code: 'FST_PYWATT_INVALID_OPTIONS', message: /db.tls/ })
  })
})

async function mysqlCipher (db: Database): Promise<string> {
  return String((await db.queryOne<{ Value: string }>("SHOW STATUS LIKE 'Ssl_cipher'"))?.Value ?? '')
}

t.test('MariaDB over TLS', async (t) => {
  const serves = async (): Promise<boolean> => await using(t, createDatabase({ url: 'mysql://root@127.0.0.1:3306/test' }),
    async (db) => (await db.queryOne<{ Value: string }>("SHOW VARIABLES LIKE 'have_ssl'"))?.Value === 'YES')
  if (!await requireTls(t, 'MariaDB', 3306, serves)) return
  const base = 'mysql://root@127.0.0.1:3306/test'

  t.test('VERIFY_IDENTITY with the CA connects, encrypted', async (t) => {
    t.not(await using(t, createDatabase({ url: `${base}?ssl-mode=VERIFY_IDENTITY&ssl-ca=${CA}` }), mysqlCipher), '')
    t.not(await using(t, createDatabase({ url: `mariadb://root@localhost:3306/test?ssl_mode=verify_identity&ssl_ca=${CA}&ssl-cert=${CLIENT_CERT}&ssl-key=${CLIENT_KEY}` }), mysqlCipher), '')
  })

  t.test('VERIFY_IDENTITY without the CA is refused clearly', async (t) => {
    await t.rejects(using(t, createDatabase({ url: `${base}?ssl-mode=VERIFY_IDENTITY`, pool: { acquireTimeout: 5_000 } }), (db) => db.ping()),
      { code: 'FST_PYWATT_DB_QUERY', message: /TLS: the server's certificate was not accepted.*ssl-ca/ })
  })

  t.test('VERIFY_CA; REQUIRED encrypts without verifying; DISABLED stays plaintext', async (t) => {
    t.not(await using(t, createDatabase({ url: `${base}?ssl-mode=VERIFY_CA&ssl-ca=${CA}` }), mysqlCipher), '')
    t.not(await using(t, createDatabase({ url: `${base}?ssl-mode=REQUIRED` }), mysqlCipher), '')
    t.equal(await using(t, createDatabase({ url: `${base}?ssl-mode=DISABLED` }), mysqlCipher), '')
    t.equal(await using(t, createDatabase({ url: base }), mysqlCipher), '', 'unsaid: plaintext, as before')
  })

  t.test('pool.maxLifetime: a connection past it is replaced at checkout', async (t) => {
    const db = createDatabase({ url: base, pool: { max: 1, maxLifetime: 200 } })
    t.teardown(() => db.close())
    const id = async (): Promise<number> => Number((await db.queryOne<{ id: number }>('SELECT CONNECTION_ID() AS id'))!.id)
    const first = await id()
    t.equal(await id(), first, 'reused while young')
    await new Promise((resolve) => setTimeout(resolve, 250))
    t.not(await id(), first, 'replaced once old')
  })

  t.test('discrete settings with passwordSecret, TLS; a rotated password opens a new pool', async (t) => {
    const admin = createDatabase({ url: base })
    t.teardown(() => admin.close())
    const user = unique('pw').slice(0, 32)
    const pw1 = 'first-Pass:w0rd/1'
    const pw2 = 'second-Pass:w0rd/2'
    await admin.execute(`CREATE USER '${user}'@'%' IDENTIFIED BY '${pw1}'`)
    t.teardown(() => admin.execute(`DROP USER IF EXISTS '${user}'@'%'`))
    const orch = new FakeOrchestrator()
    orch.init()
    orch.send({ op: 'secret', name: 'DB_PASSWORD', value: pw1 })
    const log = captureLogger('debug')
    const app = Fastify({ loggerInstance: log.logger })
    t.teardown(() => app.close())
    await app.register(pywatt, {
      io: orch.io,
      db: { dialect: 'mysql', host: '127.0.0.1', port: 3306, user, passwordSecret: 'DB_PASSWORD', params: { 'ssl-mode': 'VERIFY_IDENTITY', 'ssl-ca': CA } }
    })
    t.not(await mysqlCipher(app.pywatt.db), '')
    t.same(await app.pywatt.db.query('SELECT CURRENT_USER() AS u'), [{ u: `${user}@%` }])

    // A password that does not work keeps the pool.
    orch.send({ op: 'rotated', keys: ['DB_PASSWORD'], rotation_id: 'r1' })
    await until(() => orch.ops('get_secret').filter((x) => x.name === 'DB_PASSWORD').length === 1)
    orch.send({ op: 'secret', name: 'DB_PASSWORD', value: 'wrong-password-zz', rotation_id: 'r1' })
    await until(() => log.entries().some((e) => /rotated database password does not work/.test(e.msg)), 10_000)
    await app.pywatt.db.ping()

    await admin.execute(`ALTER USER '${user}'@'%' IDENTIFIED BY '${pw2}'`)
    orch.send({ op: 'rotated', keys: ['DB_PASSWORD'], rotation_id: 'r2' })
    await until(() => orch.ops('get_secret').filter((x) => x.name === 'DB_PASSWORD').length === 2)
    orch.send({ op: 'secret', name: 'DB_PASSWORD', value: pw2, rotation_id: 'r2' })
    await until(() => log.entries().some((e) => /pool swapped/.test(e.msg)), 10_000)
    // The swap came after the new pool answered with the new password.
    t.not(await mysqlCipher(app.pywatt.db), '')
    t.notOk(log.lines.some((l) => l.includes(pw1) || l.includes(pw2)), 'the passwords never reach a log line')
  })
})
