import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import Fastify from 'fastify'
import pywatt from '../../plugins/index.js'
import { createDatabase } from '../../lib/db/index.js'
import { EXIT } from '../../lib/lifecycle/exit-codes.js'
import { FakeOrchestrator, until } from '../helpers/fake-orchestrator.js'
import { captureLogger } from '../helpers/log-capture.js'
import { startModule } from '../helpers/modules.js'
import { MIGRATION_SQL } from '../../lib/db/migrations/dialect.js'
import { requireServer, unique } from './helpers.js'

const MODULE = fileURLToPath(new URL('../../dist/test/fixtures/migrations-module.js', import.meta.url))
const ITEMS = 'CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL);\n'

/** A SQLite file on which 001.items.sql was applied, and the file edited since: its URL and the directory. */
async function editedAfterApplied (t: Test, edited: string): Promise<{ url: string, migrations: string }> {
  const dir = t.testdir({ migrations: { '001.items.sql': ITEMS } })
  const migrations = join(dir, 'migrations')
  const url = `sqlite:${join(dir, 'a.sqlite')}`
  const seed = createDatabase({ url })
  await seed.migrate(migrations)
  await seed.close()
  writeFileSync(join(migrations, '001.items.sql'), edited)
  return { url, migrations }
}

t.test('db.migrations: applied before register resolves; db.migrate() by hand finds nothing more; a rotation does not migrate', async (t) => {
  const dir = t.testdir({
    migrations: { '001.items.sql': ITEMS, '002.first.sql': "INSERT INTO items (name) VALUES ('first');\n" }
  })
  const migrations = join(dir, 'migrations')
  const orch = new FakeOrchestrator()
  orch.init()
  orch.send({ op: 'secret', name: 'DATABASE_URL', value: `sqlite:${join(dir, 'a.sqlite')}` })
  const log = captureLogger('info')
  const app = Fastify({ loggerInstance: log.logger })
  t.after(() => app.close())
  await app.register(pywatt, { io: orch.io, db: { urlSecret: 'DATABASE_URL', migrations } })
  const { db } = app.pywatt
  t.same(await db.query('SELECT name FROM items'), [{ name: 'first' }], 'the schema and its row are there once register resolves')
  t.same(log.entries().find((e) => /migration/.test(e.msg))?.applied, ['001.items.sql', '002.first.sql'], 'what was applied is logged')
  t.same(await db.migrate(migrations), { applied: [] }, 'by hand: nothing left to apply')

  // The rotated URL reaches the same database: nothing is migrated again, not even a file added since.
  writeFileSync(join(migrations, '003.second.sql'), "INSERT INTO items (name) VALUES ('second');\n")
  orch.send({ op: 'rotated', keys: ['DATABASE_URL'], rotation_id: 'r1' })
  await until(() => orch.ops('get_secret').some((x) => x.name === 'DATABASE_URL'))
  orch.send({ op: 'secret', name: 'DATABASE_URL', value: `sqlite:${join(dir, 'a.sqlite')}`, rotation_id: 'r1' })
  await until(() => log.entries().some((e) => /pool swapped/.test(e.msg)))
  t.same(await db.query('SELECT name FROM items'), [{ name: 'first' }])
  t.same(await db.migrate({ dir: migrations }), { applied: ['003.second.sql'] }, 'until the app asks')
})

t.test('an applied file edited since: register rejects naming it, exit 2, the database closed', async (t) => {
  const { url, migrations } = await editedAfterApplied(t, `${ITEMS}CREATE INDEX items_name ON items (name);\n`)
  const orch = new FakeOrchestrator()
  orch.init()
  const app = Fastify()
  t.after(() => app.close())
  await t.rejects(async () => { await app.register(pywatt, { io: orch.io, db: { url, migrations: { dir: migrations } } }) },
    { code: 'FST_PYWATT_MIGRATION', message: /001\.items\.sql was edited after it was applied/ })
  t.same(orch.exits, [EXIT.REFUSED])
})

t.test('the migrations option is checked', async (t) => {
  for (const migrations of [{ dir: 'm', table: 'x; DROP TABLE y' }, { dir: '' }, { dir: 'm', lockTimeout: 0 }, { dir: 'm', extra: 1 }]) {
    const orch = new FakeOrchestrator()
    orch.init()
    const app = Fastify()
    t.after(() => app.close())
    await t.rejects(async () => { await app.register(pywatt, { io: orch.io, db: { migrations } as never }) }, { code: 'FST_PYWATT_INVALID_OPTIONS', message: /db\.migrations/ }, JSON.stringify(migrations))
  }
})

t.test('a module whose applied migration was edited refuses to start: exit 2, the fatal line names the file, nothing announced', async (t) => {
  const { url, migrations } = await editedAfterApplied(t, `-- edited\n${ITEMS}`)
  const { dev, stderr } = await startModule(t, MODULE, { secrets: { DATABASE_URL: url }, extraEnv: { MIGRATIONS_DIR: migrations } })
  t.same(await dev.waitForExit(15_000), { code: EXIT.REFUSED, signal: null })
  t.notOk(dev.messages.some((m) => m.op === 'announce'), 'never announced')
  const fatal = stderr.map((l) => JSON.parse(l) as { level: number, err?: { code: string, message: string } }).filter((e) => e.level === 60)
  t.equal(fatal.length, 1)
  t.equal(fatal[0]?.err?.code, 'FST_PYWATT_MIGRATION')
  t.match(fatal[0]?.err?.message, /001\.items\.sql was edited after it was applied/)
})

t.test('the same module with its migrations unchanged starts and serves the migrated table', async (t) => {
  const dir = t.testdir({ migrations: { '001.items.sql': ITEMS, '002.first.sql': "INSERT INTO items (name) VALUES ('first');\n" } })
  const { dev } = await startModule(t, MODULE, { secrets: { DATABASE_URL: `sqlite:${join(dir, 'a.sqlite')}` }, extraEnv: { MIGRATIONS_DIR: join(dir, 'migrations') } })
  await dev.announced()
  t.same(await (await fetch(`http://${dev.listen}/items`)).json(), [{ name: 'first' }])
  t.same(await dev.shutdown(), { code: EXIT.OK, signal: null })
})

t.test("PostgreSQL: another replica holding the migration lock past pluginTimeout refuses the start (exit 2) before avvio's timeout", async (t) => {
  if (!await requireServer(t, 'PostgreSQL', '127.0.0.1', 5432)) return
  const url = 'postgres://postgres@127.0.0.1:5432/test'
  const table = unique('pwmw')
  const dir = t.testdir({ '001.a.sql': `CREATE TABLE ${table}_a (v INT);` })
  const holder = createDatabase({ url })
  t.after(async () => {
    await holder.execute(`DROP TABLE IF EXISTS ${table}_a`)
    await holder.execute(`DROP TABLE IF EXISTS ${table}`)
    await holder.close()
  })
  await holder.session(async (session) => {
    t.ok(await MIGRATION_SQL.postgres.lock(session, table, 1000))
    const orch = new FakeOrchestrator()
    orch.init()
    const app = Fastify({ pluginTimeout: 1500 })
    t.after(() => app.close())
    await t.rejects(async () => { await app.register(pywatt, { io: orch.io, db: { url, migrations: { dir, table } } }) },
      { code: 'FST_PYWATT_MIGRATION', message: /another process held the migration lock/ })
    t.same(orch.exits, [EXIT.REFUSED])
    await MIGRATION_SQL.postgres.unlock(session, table)
  })
})
