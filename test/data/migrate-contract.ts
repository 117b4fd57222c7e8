import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'
import { createDatabase, type Database, type Dialect } from '../../lib/db/index.js'
import { MIGRATION_SQL } from '../../lib/db/migrations/dialect.js'
import { unique } from './helpers.js'

const CHILD = fileURLToPath(new URL('../../dist/test/fixtures/migrate-child.js', import.meta.url))

/** A table of two columns in each dialect's words. */
const TABLE = {
  postgres: (t: string) => `CREATE TABLE ${t} (id SERIAL PRIMARY KEY, name TEXT NOT NULL);`,
  mysql: (t: string) => `CREATE TABLE ${t} (id INT AUTO_INCREMENT PRIMARY KEY, name TEXT NOT NULL);`,
  sqlite: (t: string) => `CREATE TABLE ${t} (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL);`
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex')

interface Setup {
  db: Database
  dir: string
  /** The migrations table of this test. */
  table: string
  /** A name unique to this test, for the tables its migrations make. */
  name: (what: string) => string
  write: (files: Record<string, string>) => void
  names: (table: string) => Promise<string[]>
}

/**
 * The migration runner's behaviour on one backend. Each test has its own
 * directory, migrations table and data tables (unique names), dropped after.
 */
export function migrateContract (t: Test, url: string): void {
  const setup = (t: Test): Setup => {
    const dir = t.testdir({})
    const prefix = unique('pwm')
    const db = createDatabase({ url })
    const made = new Set<string>([`${prefix}_migrations`])
    t.after(async () => {
      for (const table of made) await db.execute(`DROP TABLE IF EXISTS ${table}`).catch(() => {})
      await db.close()
    })
    return {
      db,
      dir,
      table: `${prefix}_migrations`,
      name: (what) => {
        made.add(`${prefix}_${what}`)
        return `${prefix}_${what}`
      },
      write: (files) => { for (const [file, sql] of Object.entries(files)) writeFileSync(join(dir, file), sql) },
      names: async (table) => (await db.query<{ name: string }>(`SELECT name FROM ${table} ORDER BY id`)).map((r) => r.name)
    }
  }

  t.test('applies in number order, records each with its checksum, skips what is recorded', async (t) => {
    const { db, dir, table, name, write, names } = setup(t)
    const items = name('items')
    // Written last-first, and 10 after 9: the order is the number's, not the file system's or the text's.
    write({
      '10.third.sql': `INSERT INTO ${items} (name) VALUES ('c');`,
      '9.second.sql': `INSERT INTO ${items} (name) VALUES ('b');\nINSERT INTO ${items} (name) VALUES ('b2');`,
      '1.create.sql': `${TABLE[db.dialect](items)}\nINSERT INTO ${items} (name) VALUES ('a');`,
      'README.md': 'not a migration'
    })
    t.same(await db.migrate({ dir, table }), { applied: ['1.create.sql', '9.second.sql', '10.third.sql'] })
    t.same(await names(items), ['a', 'b', 'b2', 'c'])
    const rows = await db.query<{ version: number | string, name: string, file: string, checksum: string }>(`SELECT version, name, file, checksum FROM ${table} ORDER BY version`)
    t.same(rows.map((r) => [Number(r.version), r.name, r.file, r.checksum]), ['1.create.sql', '9.second.sql', '10.third.sql'].map((f) => {
      const [v, n] = f.split('.')
      return [Number(v), n, f, sha256(readFileSync(join(dir, f), 'utf8'))]
    }))

    t.same(await db.migrate({ dir, table }), { applied: [] }, 'a second run applies nothing')
    t.same(await names(items), ['a', 'b', 'b2', 'c'], 'and runs nothing again')
    write({ '11.fourth.sql': `INSERT INTO ${items} (name) VALUES ('d');` })
    t.same(await db.migrate({ dir, table }), { applied: ['11.fourth.sql'] }, 'a new file is applied alone')
    t.same(await names(items), ['a', 'b', 'b2', 'c', 'd'])
  })

  t.test("the dialect's variant is run instead of the plain file", async (t) => {
    const { db, dir, table, name, write, names } = setup(t)
    const items = name('items')
    const others = (['postgres', 'mysql', 'sqlite'] as Dialect[]).filter((d) => d !== db.dialect)
    write({
      '001.create.sql': 'THIS IS NOT SQL;',
      [`001.create.${db.dialect}.sql`]: `${TABLE[db.dialect](items)}\nINSERT INTO ${items} (name) VALUES ('${db.dialect}');`,
      [`001.create.${others[0]}.sql`]: 'NOR IS THIS;',
      '002.more.sql': `INSERT INTO ${items} (name) VALUES ('plain');`,
      [`002.more.${others[1]}.sql`]: 'NOR THIS;'
    })
    t.same(await db.migrate({ dir, table }), { applied: [`001.create.${db.dialect}.sql`, '002.more.sql'] })
    t.same(await names(items), [db.dialect, 'plain'])
    t.same((await db.query<{ file: string }>(`SELECT file FROM ${table} ORDER BY version`)).map((r) => r.file), [`001.create.${db.dialect}.sql`, '002.more.sql'])
  })

  t.test('an applied file edited since refuses, naming it, and applies nothing further', async (t) => {
    const { db, dir, table, name, write, names } = setup(t)
    const items = name('items')
    const original = `-- the items\n${TABLE[db.dialect](items)}\n`
    write({ '001.create.sql': original })
    await db.migrate({ dir, table })
    write({
      '001.create.sql': `${original}-- an edit\n`,
      '002.insert.sql': `INSERT INTO ${items} (name) VALUES ('now');`
    })
    await t.rejects(db.migrate({ dir, table }), { code: 'FST_PYWATT_MIGRATION', message: /001\.create\.sql was edited after it was applied/ })
    t.same(await names(items), [], '002 did not run')
    write({ '001.create.sql': original.replace(/\n/g, '\r\n') })
    t.same(await db.migrate({ dir, table }), { applied: ['002.insert.sql'] }, 'CRLF line endings are not an edit')
  })

  t.test('a failing migration is not recorded, and what it did is rolled back (MySQL: up to its DDL, which commits)', async (t) => {
    const { db, dir, table, name, write, names } = setup(t)
    const items = name('items')
    const other = name('other')
    write({
      '001.create.sql': TABLE[db.dialect](items),
      '002.broken.sql': `INSERT INTO ${items} (name) VALUES ('kept?');\nINSERT INTO ${name('missing')} (name) VALUES ('x');`,
      '003.after.sql': `INSERT INTO ${items} (name) VALUES ('never');`
    })
    await t.rejects(db.migrate({ dir, table }), { code: 'FST_PYWATT_MIGRATION', message: /^Migrations refused: 002\.broken\.sql failed: / })
    t.same(await names(items), [], "002's insert was rolled back and 003 did not run")
    t.same((await db.query<{ file: string }>(`SELECT file FROM ${table}`)).map((r) => r.file), ['001.create.sql'], 'only 001 is recorded')

    write({ '002.broken.sql': `${TABLE[db.dialect](other)}\nINSERT INTO ${name('missing')} (name) VALUES ('x');` })
    await t.rejects(db.migrate({ dir, table }), { code: 'FST_PYWATT_MIGRATION', message: /002\.broken\.sql failed/ })
    const exists = await db.query(`SELECT 1 FROM ${other}`).then(() => true, () => false)
    t.equal(exists, db.dialect === 'mysql', db.dialect === 'mysql' ? 'MySQL: the CREATE TABLE committed on its own' : 'the CREATE TABLE was rolled back')
    t.same((await db.query<{ file: string }>(`SELECT file FROM ${table}`)).map((r) => r.file), ['001.create.sql'])
  })

  t.test('a file recorded by another process after this one read the records is skipped, not run', async (t) => {
    const { db, dir, table, write } = setup(t)
    const second = 'THIS IS NOT SQL AND MUST NOT RUN;'
    // 001 plays the other replica: it records 002 while this run is under way.
    write({
      '001.other.sql': `INSERT INTO ${table} (version, name, file, checksum, applied_at) VALUES (2, 'second', '002.second.sql', '${sha256(second)}', 'elsewhere');`,
      '002.second.sql': second
    })
    t.same(await db.migrate({ dir, table }), { applied: ['001.other.sql'] })
    t.same((await db.query<{ applied_at: string }>(`SELECT applied_at FROM ${table} WHERE version = 2`)).map((r) => r.applied_at), ['elsewhere'])
  })

  t.test('a file of comments only (as `pywatt-db new` makes it) is applied and recorded', async (t) => {
    const { db, dir, table, write } = setup(t)
    write({ '001.later.sql': '-- to be written\n/* a block\n   comment */\n# MySQL-style\n' })
    t.same(await db.migrate({ dir, table }), { applied: ['001.later.sql'] })
    t.equal((await db.query(`SELECT file FROM ${table}`)).length, 1)
  })

  if (!url.startsWith('sqlite:')) {
    t.test('another process holding the migration lock past lockTimeout: refused, nothing applied; applied once it lets go', async (t) => {
      const { db, dir, table, name, write, names } = setup(t)
      const items = name('items')
      write({ '001.create.sql': TABLE[db.dialect](items) })
      const holder = createDatabase({ url })
      t.after(() => holder.close())
      await holder.session(async (session) => {
        t.ok(await MIGRATION_SQL[db.dialect].lock(session, table, 1000), 'the other process has the lock')
        await t.rejects(db.migrate({ dir, table, lockTimeout: 100 }), { code: 'FST_PYWATT_MIGRATION', message: new RegExp(`another process held the migration lock of ${table} for 100 ms`) })
        await MIGRATION_SQL[db.dialect].unlock(session, table)
      })
      t.same(await db.migrate({ dir, table }), { applied: ['001.create.sql'] })
      t.same(await names(items), [])
    })
  }

  t.test('two replicas starting at once: each migration is applied once', async (t) => {
    const { db, dir, table, name, write, names } = setup(t)
    const log = name('log')
    const files: Record<string, string> = { '001.log.sql': TABLE[db.dialect](log) }
    for (let i = 2; i <= 20; i++) files[`${String(i).padStart(3, '0')}.step.sql`] = `INSERT INTO ${log} (name) VALUES ('${i}');`
    write(files)
    const env = { ...process.env, MIGRATE_URL: url, MIGRATE_DIR: dir, MIGRATE_TABLE: table }
    const children = [0, 1].map(() => {
      const child = spawn(process.execPath, [CHILD], { env, stdio: ['pipe', 'pipe', 'inherit'] })
      t.after(() => child.kill())
      return { child, lines: createInterface({ input: child.stdout })[Symbol.asyncIterator]() }
    })
    for (const { lines } of children) t.equal((await lines.next()).value, 'ready')
    for (const { child } of children) child.stdin.write('go\n')
    const results = await Promise.all(children.map(async ({ lines }) => JSON.parse((await lines.next()).value as string) as { applied: string[] }))
    await Promise.all(children.map(({ child }) => child.exitCode === null ? once(child, 'exit') : null))
    t.same(results.flatMap((r) => r.applied).sort(), Object.keys(files).sort(), 'every file applied by one replica or the other, none by both')
    t.same((await names(log)).sort((a, b) => Number(a) - Number(b)), Array.from({ length: 19 }, (_, i) => String(i + 2)), 'each insert ran once')
    t.equal((await db.query(`SELECT version FROM ${table}`)).length, 20)
  })
}
