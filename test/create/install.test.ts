/*
 * Generated projects as a user gets them: this package packed into a tarball,
 * projects rendered by the built bin (`--no-install`, `--pywatt <tarball>`),
 * then each project's own `npm test` (build, the in-process test and the
 * child-process test under DevOrchestrator), with the real servers it chose.
 *
 * Installs compile better-sqlite3 from source (a minute and a half each), so
 * the projects share one: they are directories of one parent project whose
 * package.json asks for the union of their dependencies, installed once with
 * `--prefer-offline` (Node, tsc and npm's script PATH look up the tree). The
 * bin's own install step is the same `npm install --prefer-offline`.
 *
 * One more project is installed by the bin itself, with the network cut off
 * (npm through a proxy that refuses every connection): the cache the shared
 * install filled is enough, as the README promises. That project then runs
 * under `npm run dev`, and the test calls it through pywatt-dev's gateway.
 *
 * The package is packed from the built checkout (`npm test` builds first) with
 * --ignore-scripts. Without a build the test is skipped, except under CI=true,
 * where it must run.
 */
import t from 'tap'
import { execFile, spawn } from 'node:child_process'
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import pg from 'pg'
import { ownVersions } from '../../lib/create/versions.js'

const run = promisify(execFile)
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const BIN = join(root, 'dist', 'bin', 'create-pywatt-module.js')
const CI = process.env.CI === 'true'
/** The PostgreSQL project migrates a database of its own, made for this run and dropped after it. */
const PG_DATABASE = `pywatt_create_${process.pid}`

// Two installs compile better-sqlite3 (the shared one, the bin's offline one); the projects then test in about a minute.
t.setTimeout(900_000)

// tap's NODE_OPTIONS (process tracking, coverage) stays out of npm and the projects' own node --test.
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_OPTIONS' && !k.startsWith('_TAPJS_')))

/** A subset of the choices, as flags, and the servers it needs (as the suite's own tests reach them). */
const SUBSETS: Array<{ dir: string, flags: string[], secrets: Record<string, string> }> = [
  { dir: 'sqlite-memory', flags: ['--db', 'sqlite', '--cache', 'memory', '--jwt', '--ipc', '--metrics'], secrets: {} },
  {
    dir: 'postgres-redis',
    flags: ['--db', 'postgres', '--cache', 'redis', '--no-jwt', '--no-ipc', '--no-metrics'],
    secrets: { DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${PG_DATABASE}`, CACHE_URL: 'redis://127.0.0.1:6379/0' }
  },
  {
    dir: 'mysql-memcached',
    flags: ['--db', 'mysql', '--cache', 'memcached', '--no-migrations', '--jwt', '--no-metrics'],
    secrets: { DATABASE_URL: 'mysql://root@127.0.0.1:3306/test', CACHE_URL: 'memcached://127.0.0.1:11211' }
  },
  { dir: 'javascript', flags: ['--js', '--db', 'sqlite', '--cache', 'memory', '--jwt', '--ipc', '--metrics'], secrets: {} }
]

const built = existsSync(BIN)
if (!built && !CI) {
  t.plan(0, 'no build (dist/bin/create-pywatt-module.js): npm test builds first')
} else {
  const work = mkdtempSync(join(tmpdir(), 'pywatt-create-'))
  t.teardown(() => rmSync(work, { recursive: true, force: true }))

  const npm = async (cwd: string, args: string[], extra: Record<string, string> = {}): Promise<string> =>
    (await run('npm', args, { cwd, env: { ...env, ...extra }, maxBuffer: 64 * 1024 * 1024 })).stdout

  let tarball = ''
  t.before(async () => {
    const started = Date.now()
    const admin = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' })
    await admin.connect()
    await admin.query(`CREATE DATABASE ${PG_DATABASE}`)
    await admin.end()
    t.teardown(async () => {
      const drop = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' })
      await drop.connect()
      await drop.query(`DROP DATABASE IF EXISTS ${PG_DATABASE} WITH (FORCE)`)
      await drop.end()
    })
    const [packed] = JSON.parse(await npm(root, ['pack', '--ignore-scripts', '--json', '--pack-destination', work])) as Array<{ filename: string }>
    tarball = join(work, (packed as { filename: string }).filename)
    for (const { dir, flags } of SUBSETS) {
      await run(process.execPath, [BIN, dir, ...flags, '--no-install', '--pywatt', tarball], { cwd: work, env })
    }
    // One install for every project: the union of their dependencies.
    const deps: Record<string, string> = {}
    for (const { dir } of SUBSETS) {
      const pkg = JSON.parse(readFileSync(join(work, dir, 'package.json'), 'utf8')) as { dependencies: Record<string, string>, devDependencies?: Record<string, string> }
      Object.assign(deps, pkg.dependencies, pkg.devDependencies)
    }
    writeFileSync(join(work, 'package.json'), JSON.stringify({ name: 'generated-projects', private: true, type: 'module', dependencies: deps }))
    await npm(work, ['install', '--prefer-offline', '--no-audit', '--no-fund'])
    t.comment(`pack, render and one shared install: ${Math.round((Date.now() - started) / 1000)} s`)
  })

  for (const { dir, flags, secrets } of SUBSETS) {
    t.test(`create-pywatt-module ${flags.join(' ')}: the project's own npm test passes`, async (t) => {
      const started = Date.now()
      // The project's tests read .env.example; the environment points them at the suite's servers.
      const out = await npm(join(work, dir), ['test'], secrets).catch((err: { stdout?: string, stderr?: string }) => {
        throw new Error(`npm test failed in ${dir}:\n${(err.stdout ?? '').slice(-4000)}\n${(err.stderr ?? '').slice(-4000)}`)
      })
      t.match(out, /# pass 2\b/, 'both of its tests pass')
      t.match(out, /# fail 0\b/)
      t.comment(`${dir}: npm test in ${Math.round((Date.now() - started) / 1000)} s`)
    })
  }

  t.test('the bin installs a project offline from the npm cache, and npm run dev serves it through pywatt-dev', async (t) => {
    const started = Date.now()
    // Port 9 (discard) has no listener: every request that misses the cache fails at once.
    const noNetwork = { npm_config_proxy: 'http://127.0.0.1:9', npm_config_https_proxy: 'http://127.0.0.1:9', npm_config_fetch_retries: '0' }
    const missed = await run('npm', ['view', `pywatt-not-in-the-cache-${process.pid}`, '--prefer-offline'], { cwd: work, env: { ...env, ...noNetwork } })
      .then(() => 'reached the registry', (err: { stderr?: string }) => err.stderr ?? '')
    t.match(missed, /ECONNREFUSED/, 'the control: a package not in the cache cannot be fetched')
    const created = await run(process.execPath, [BIN, 'offline', '--yes', '--pywatt', tarball], { cwd: work, env: { ...env, ...noNetwork }, maxBuffer: 16 * 1024 * 1024 })
      .catch((err: { stdout?: string, stderr?: string }) => { throw new Error(`create-pywatt-module failed offline:\n${err.stdout ?? ''}\n${(err.stderr ?? '').slice(-4000)}`) })
    t.match(created.stdout, /Installing dependencies \(npm install\)\.\.\.\nInstalled dependencies\n/, 'its install step ran, and succeeded')
    t.match(created.stdout, /Next:\n {2}cd offline\n {2}npm run dev\n$/)
    t.comment(`offline install by the bin: ${Math.round((Date.now() - started) / 1000)} s`)

    // `npm run dev` exactly as a user types it; only the gateway's port is left to the system.
    const dev = spawn('npm', ['run', 'dev'], { cwd: join(work, 'offline'), env: { ...env, PYWATT_DEV_GATEWAY_PORT: '0' }, detached: true })
    let output = ''
    dev.stdout.on('data', (c: Buffer) => { output += c.toString() })
    dev.stderr.on('data', (c: Buffer) => { output += c.toString() })
    const exited = new Promise<number | null>((resolve) => dev.once('close', resolve))
    t.teardown(() => { if (dev.exitCode === null && dev.pid !== undefined) process.kill(-dev.pid, 'SIGKILL') })
    const seen = async (re: RegExp): Promise<RegExpExecArray> => {
      for (const end = Date.now() + 60_000; Date.now() < end;) {
        const m = re.exec(output)
        if (m !== null) return m
        if (dev.exitCode !== null) break
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      throw new Error(`npm run dev never printed ${String(re)}:\n${output}`)
    }
    const [, gateway] = await seen(/gateway on (http:\/\/127\.0\.0\.1:\d+) -> offline \(status page /)
    await seen(/offline: module announced /)
    const hello = await fetch(`${gateway as string}/hello`)
    t.same(await hello.json(), { hello: 'world', module: 'offline' }, 'through the gateway, from the module pywatt.dev.json names')
    const note = `dev note ${process.pid}`
    const posted = await fetch(`${gateway as string}/notes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ body: note }) })
    t.equal(posted.status, 201, 'the migration made the table')
    const notes = await (await fetch(`${gateway as string}/notes`)).json() as Array<{ body: string }>
    t.ok(notes.some((n) => n.body === note))
    t.equal((await fetch(`${gateway as string}/me`)).status, 401, 'JWT: /me needs a token')
    t.match(await (await fetch(`${gateway as string}/metrics`)).text(), /^# HELP /m)
    const status = await fetch(`${gateway as string}/_pywatt`)
    t.equal(status.status, 200, 'pywatt-dev\'s status page')
    t.match(await status.text(), /offline/)
    dev.stdin.write('shutdown\n')
    t.equal(await exited, 0, 'shutdown on the console stops it cleanly')
    t.match(output, /offline: exited with code 0/)
    t.match(output, /all modules stopped/)
  })

  t.test('installed, the create-pywatt-module bin answers, and the create-pywatt-module package (npm create pywatt-module) forwards to it', async (t) => {
    const bin = await run(join(work, 'node_modules', '.bin', 'create-pywatt-module'), ['--help'], { cwd: work, env })
    t.match(bin.stdout, /^Usage: create-pywatt-module/)
    copyFileSync(join(root, 'packages', 'create-pywatt-module', 'index.js'), join(work, 'create.js'))
    const forwarded = await run(process.execPath, ['create.js', 'forwarded', '--no-install'], { cwd: work, env })
    t.match(forwarded.stdout, /cd forwarded\n {2}npm install\n {2}npm run dev\n$/)
    t.ok(existsSync(join(work, 'forwarded', 'src', 'server.ts')))
  })

  t.test('the rendered projects ask for this package\'s own ranges of the drivers', async (t) => {
    const pkg = JSON.parse(readFileSync(join(work, 'postgres-redis', 'package.json'), 'utf8')) as { dependencies: Record<string, string> }
    t.equal(pkg.dependencies.pg, ownVersions().pg)
    t.equal(pkg.dependencies.ioredis, ownVersions().ioredis)
  })
}
