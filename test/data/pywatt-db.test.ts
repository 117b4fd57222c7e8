import { execFile } from 'node:child_process'
import { readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Writable } from 'node:stream'
import { promisify } from 'node:util'
import t from 'tap'
import { createDatabase } from '../../lib/db/index.js'
import { runDbCli } from '../../lib/db/migrations/cli.js'
import { requireServer, unique } from './helpers.js'

const BIN = fileURLToPath(new URL('../../dist/bin/pywatt-db.js', import.meta.url))
const run = promisify(execFile)

interface Ran { code: number, stdout: string, stderr: string }

async function db (cwd: string, args: string[], env: Record<string, string> = {}): Promise<Ran> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'DATABASE_URL' && k !== 'PYWATT_DATA_DIR'))
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { cwd, env: { ...base, ...env } })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code: number, stdout: string, stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

t.test('SQLite, the embedded default: new numbers the files, status and up follow the records', async (t) => {
  const cwd = t.testdir({})
  t.match(await db(cwd, ['new', 'create-notes']), { code: 0, stdout: `${join(cwd, 'migrations', '001.create-notes.sql')}\n` })
  writeFileSync(join(cwd, 'migrations', '001.create-notes.sql'), 'CREATE TABLE notes (body TEXT);\n')
  t.match(await db(cwd, ['new', 'first-note']), { code: 0, stdout: /002\.first-note\.sql\n$/ })
  writeFileSync(join(cwd, 'migrations', '002.first-note.sql'), "INSERT INTO notes VALUES ('hello');\n")
  t.same(readdirSync(join(cwd, 'migrations')), ['001.create-notes.sql', '002.first-note.sql'])

  const status = await db(cwd, ['status'])
  t.equal(status.code, 0)
  t.match(status.stdout, /^database: sqlite .*data\/pywatt\.sqlite \(embedded default: DATABASE_URL is not set\)\n/)
  t.match(status.stdout, /1 {2}pending {3}001\.create-notes\.sql\n\s+2 {2}pending {3}002\.first-note\.sql\n0 applied, 2 pending\n$/)

  const up = await db(cwd, ['up'])
  t.equal(up.code, 0)
  t.match(up.stdout, /applied 001\.create-notes\.sql\napplied 002\.first-note\.sql\n2 migration\(s\) applied\n$/)
  t.match((await db(cwd, ['up'])).stdout, /up to date: nothing to apply\n$/)
  const notes = createDatabase({ url: `sqlite:${join(cwd, 'data', 'pywatt.sqlite')}` })
  t.after(() => notes.close())
  t.same(await notes.query('SELECT body FROM notes'), [{ body: 'hello' }])

  writeFileSync(join(cwd, 'migrations', '002.first-note.sql'), "INSERT INTO notes VALUES ('edited');\n")
  const edited = await db(cwd, ['status'])
  t.equal(edited.code, 1, 'status fails when an applied file was edited')
  t.match(edited.stdout, /2 {2}edited {4}002\.first-note\.sql/)
  const refused = await db(cwd, ['up'])
  t.equal(refused.code, 1)
  t.match(refused.stderr, /^pywatt-db: Migrations refused: 002\.first-note\.sql was edited after it was applied/)
})

t.test('usage errors exit 2', async (t) => {
  const cwd = t.testdir({})
  t.equal((await db(cwd, ['frobnicate'])).code, 2)
  t.equal((await db(cwd, ['new'])).code, 2)
  t.equal((await db(cwd, ['status', '--nope'])).code, 2)
  t.match(await db(cwd, ['status', '--secret', 'MY_DB_URL']), { code: 2, stderr: /MY_DB_URL is not set/ })
  t.match(await db(cwd, ['new', 'bad name']), { code: 1, stderr: /cannot name a migration/ })
  // In-process: Node 20 itself reads an --env-file anywhere on its command line, and exits 9 on a missing one.
  let stderr = ''
  const err = new Writable({ write (chunk: Buffer, _enc, cb) { stderr += chunk.toString(); cb() } })
  t.equal(await runDbCli(['up', '--env-file', join(cwd, 'missing.env')], process.stdout, err), 2)
  t.match(stderr, /^pywatt-db: ENOENT.*missing\.env/)
  t.match(await db(cwd, ['--help']), { code: 0, stdout: /^Usage: pywatt-db/ })
})

t.test('PostgreSQL from a secret in an --env-file: the password is never printed', async (t) => {
  if (!await requireServer(t, 'PostgreSQL', '127.0.0.1', 5432)) return
  // The server trusts local connections, so any password connects: this one must appear nowhere.
  const password = 'pw-db-s3cret-Zq9'
  const url = `postgres://postgres:${password}@127.0.0.1:5432/test`
  const table = unique('pwdb')
  const cwd = t.testdir({ 'db.env': `APP_DB_URL=${url}\n`, migrations: { '001.make.sql': `CREATE TABLE ${table}_t (v INT);\n` } })
  const admin = createDatabase({ url: 'postgres://postgres@127.0.0.1:5432/test' })
  t.after(async () => {
    await admin.execute(`DROP TABLE IF EXISTS ${table}_t`)
    await admin.execute(`DROP TABLE IF EXISTS ${table}`)
    await admin.close()
  })
  const args = ['--env-file', 'db.env', '--secret', 'APP_DB_URL', '--table', table]
  const outputs: Ran[] = []
  const status = await db(cwd, ['status', ...args])
  outputs.push(status)
  t.match(status.stdout, /^database: postgres postgres@127\.0\.0\.1:5432\/test \(from APP_DB_URL\)\n\s+1 {2}pending/)
  const up = await db(cwd, ['up', ...args])
  outputs.push(up)
  t.match(up, { code: 0, stdout: /applied 001\.make\.sql/ })
  t.equal((await admin.query(`SELECT file FROM ${table}`)).length, 1)
  // A driver error that quotes the password (a value it could not cast) is scrubbed.
  writeFileSync(join(cwd, 'migrations', '002.leak.sql'), `SELECT '${password}'::int;\n`)
  const leak = await db(cwd, ['up', ...args])
  outputs.push(leak)
  t.match(leak, { code: 1, stderr: /002\.leak\.sql failed: Database error: invalid input syntax for type integer: "\[REDACTED\]"/ })
  writeFileSync(join(cwd, 'migrations', '001.make.sql'), `${readFileSync(join(cwd, 'migrations', '001.make.sql'), 'utf8')}-- edited\n`)
  const refused = await db(cwd, ['up', ...args])
  outputs.push(refused)
  t.equal(refused.code, 1)
  for (const o of outputs) t.notOk(`${o.stdout}${o.stderr}`.includes(password), 'no password in the output')
})
