import t, { type Test } from 'tap'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { runCreate } from '../../lib/create/cli.js'

/** The generator without a terminal, in a new temporary directory; its output as text. */
async function create (t: Test, argv: string[], cwd?: string): Promise<{ code: number, out: string, err: string, cwd: string }> {
  const dir = cwd ?? mkdtempSync(join(tmpdir(), 'pywatt-create-cli-'))
  if (cwd === undefined) t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  let out = ''
  let err = ''
  stdout.on('data', (c: Buffer) => { out += c.toString() })
  stderr.on('data', (c: Buffer) => { err += c.toString() })
  const code = await runCreate(argv, { stdout, stderr, interactive: false, cwd: dir })
  return { code, out, err, cwd: dir }
}

t.test('writes the project and ends with the commands to run', async (t) => {
  const { code, out, cwd } = await create(t, ['my-module', '--db', 'postgres', '--cache', 'none', '--no-install'])
  t.equal(code, 0)
  const pkg = JSON.parse(readFileSync(join(cwd, 'my-module', 'package.json'), 'utf8')) as { name: string, dependencies: Record<string, string> }
  t.equal(pkg.name, 'my-module')
  t.ok(pkg.dependencies.pg, 'the postgres choice is taken')
  t.ok(existsSync(join(cwd, 'my-module', 'migrations', '001.create-notes.sql')), 'migrations by default with a database')
  t.match(out, /Next:\n {2}cd my-module\n {2}npm install\n {2}npm run dev\n$/)
})

t.test('refuses a directory that is not empty, unless --force', async (t) => {
  const first = await create(t, ['my-module', '--no-install', '--js'])
  const readme = join(first.cwd, 'my-module', 'README.md')
  writeFileSync(readme, 'mine')
  const again = await create(t, ['my-module', '--no-install'], first.cwd)
  t.equal(again.code, 1)
  t.match(again.err, /is not empty: choose another directory, or pass --force/)
  t.equal(readFileSync(readme, 'utf8'), 'mine', 'nothing was overwritten')
  const forced = await create(t, ['my-module', '--no-install', '--force'], first.cwd)
  t.equal(forced.code, 0)
  t.not(readFileSync(readme, 'utf8'), 'mine')
})

t.test('usage errors exit 2 and name the problem', async (t) => {
  for (const [argv, message] of [
    [['m', '--db', 'oracle'], /--db must be one of sqlite, postgres, mysql, none/],
    [['m', '--db', 'none', '--migrations'], /--migrations needs a database/],
    [['--no-install'], /name the directory to create/],
    [['Bad Name', '--no-install'], /cannot be the package name/],
    [['m', '--colour'], /Unknown option '--colour'/]
  ] as const) {
    const { code, err } = await create(t, [...argv])
    t.equal(code, 2, argv.join(' '))
    t.match(err, message)
  }
  const help = await create(t, ['--help'])
  t.equal(help.code, 0)
  t.match(help.out, /^Usage: create-pywatt-module/)
})
