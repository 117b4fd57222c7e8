import { join } from 'node:path'
import t from 'tap'
import { createDatabase } from '../../lib/db/index.js'
import { nextFileName, readMigrations } from '../../lib/db/migrations/files.js'

t.test('file names: a .sql file that does not fit, or two files of one number for one dialect, are refused by name', async (t) => {
  const refused = (files: Record<string, string>): unknown => {
    try {
      readMigrations(t.testdir(files), 'postgres')
      return null
    } catch (err) {
      return err
    }
  }
  t.match(refused({ 'notes.sql': '' }), { code: 'FST_PYWATT_MIGRATION', message: /notes\.sql: a migration is named NUMBER\.NAME\.sql/ })
  t.match(refused({ '001.a.b.sql': '' }), { message: /001\.a\.b\.sql: a migration is named/ }, 'a dot in the name (b is no dialect)')
  t.match(refused({ '001.a.sql': '', '1.b.sql': '' }), { message: /001\.a\.sql and 1\.b\.sql have the same number$/ })
  t.match(refused({ '001.a.mysql.sql': '', '001.b.mysql.sql': '' }), { message: /001\.a\.mysql\.sql and 001\.b\.mysql\.sql have the same number for mysql/ })
  t.match(refused({}), null, 'an empty directory is no error')
  t.match(readMigrations(t.testdir({ '001.a.sql': 'x', '001.a.postgres.sql': 'y', '002.b.sqlite.sql': 'z', 'notes.txt': '' }), 'postgres'),
    [{ version: 1, name: 'a', file: '001.a.postgres.sql', sql: 'y' }], "another dialect's variant alone is not run")
  await t.rejects(createDatabase({ url: 'sqlite::memory:' }).migrate(join(t.testdir({}), 'nope')), { code: 'FST_PYWATT_MIGRATION', message: /cannot read the migrations directory .*nope/ })
})

t.test('the next file name: one above the highest number, as wide as the widest', async (t) => {
  t.equal(nextFileName(t.testdir({}), 'first'), '001.first.sql')
  t.equal(nextFileName(t.testdir({ '0041.a.sql': '', '7.b.postgres.sql': '' }), 'next_one'), '0042.next_one.sql')
  t.equal(nextFileName(t.testdir({ '999.a.sql': '' }), 'x'), '1000.x.sql')
  t.throws(() => nextFileName(t.testdir({}), 'a.b'), { code: 'FST_PYWATT_MIGRATION', message: /'a\.b' cannot name a migration/ })
})

t.test('db.migrate settings are checked before anything runs', async (t) => {
  const db = createDatabase({ url: 'sqlite::memory:' })
  t.after(() => db.close())
  const dir = t.testdir({ '001.a.sql': 'CREATE TABLE a (v INT);' })
  await t.rejects(db.migrate({ dir, table: 'a; DROP TABLE b' }), { code: 'FST_PYWATT_MIGRATION', message: /not a usable table name/ })
  await t.rejects(db.migrate({ dir, lockTimeout: 0 }), { code: 'FST_PYWATT_MIGRATION', message: /lockTimeout must be a positive integer/ })
  t.same(await db.query("SELECT name FROM sqlite_master WHERE type = 'table'"), [], 'nothing was created')
  t.same(await db.migrate(dir), { applied: ['001.a.sql'] }, 'the default table')
  t.same(await db.query('SELECT file FROM pywatt_migrations'), [{ file: '001.a.sql' }])
})
