/*
 * The package as a consumer gets it: a clean copy of the checkout (no dist/)
 * is packed with `npm pack` (so prepack must build), the tarball is installed
 * into a new project in the system temp directory, and that project is
 * type-checked with this repository's TypeScript and the strict settings of
 * test/consumer/app/tsconfig.json (skipLibCheck off: the package's
 * declarations and those they pull in are checked too).
 *
 * - test/consumer/app/api.ts uses every entry point and public type, with
 *   `// @ts-expect-error` on what must not compile.
 * - Every ```ts block of README.md is checked as a file of its own, read from
 *   README.md now, so the documentation cannot drift from the types. A block
 *   is preceded by as many empty lines as precede it in README.md (a reported
 *   line is the README line) and followed by `export {}` (a module, so that
 *   top-level `await` and `declare module` augmentations mean what they mean
 *   in an app). Names a block uses without declaring them (`app` after the
 *   Usage example, say) come from test/consumer/app/readme-globals.d.ts. Each
 *   block is its own program: one block's augmentation (a required claim)
 *   must not leak into another. Only the block's own files are reported;
 *   the declaration files are the ones api.ts has checked.
 *
 * The tarball must hold every file the built entries import (the chunks they
 * share included), and in the new project every entry point imports and the
 * bins run.
 *
 * The install skips install scripts (no native build of better-sqlite3):
 * type-checking needs none, and importing the entries loads no driver.
 * The server drivers are optional peers: the new project has the embedded
 * defaults and none of them, and a module on PostgreSQL fails at start
 * naming the package to install. The
 * programs share one compiler host that parses each file once: a check after
 * the first takes a second or two.
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import ts from 'typescript'
import { reachableFiles } from '../helpers/package-files.js'

// Building, installing and nine type checks take about a minute on two busy
// cores; the default 120 s per file leaves too little room in a full run.
t.setTimeout(180_000)

const run = promisify(execFile)
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const fixture = join(root, 'test', 'consumer', 'app')
/** Top-level entries of the checkout that a fresh clone does not have. */
const NOT_IN_A_CLONE = new Set(['node_modules', 'dist', '.git', '.tap', 'coverage', '.pywatt-data'])

const work = mkdtempSync(join(tmpdir(), 'pywatt-consumer-'))
t.teardown(() => rmSync(work, { recursive: true, force: true }))

// tap's NODE_OPTIONS loads its process tracking and coverage collection into
// every node process started from here. npm and the build it runs (tsc on the
// whole package) are not under test: they run without it.
const npmEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_OPTIONS' && !k.startsWith('_TAPJS_')))

async function npm (cwd: string, args: string[]): Promise<string> {
  const { stdout } = await run('npm', args, { cwd, env: npmEnv, maxBuffer: 64 * 1024 * 1024 })
  return stdout
}

const installedVersion = (name: string): string =>
  (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version

/** Pack a copy of the checkout without its build; resolves with the tarball, the paths it holds and the copy (built). */
async function pack (): Promise<{ tarball: string, files: Set<string>, checkout: string }> {
  const checkout = join(work, 'checkout')
  cpSync(root, checkout, { recursive: true, filter: (src) => !NOT_IN_A_CLONE.has(relative(root, src).split(sep)[0]) })
  symlinkSync(realpathSync(join(root, 'node_modules')), join(checkout, 'node_modules'), 'dir')
  const [packed] = JSON.parse(await npm(checkout, ['pack', '--json', '--pack-destination', work])) as Array<{ filename: string, files: Array<{ path: string }> }>
  return { tarball: join(work, packed.filename), files: new Set(packed.files.map((f) => f.path)), checkout }
}

/** Every file package.json points a consumer at: exports (types and code) and bin. */
function advertisedFiles (): string[] {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, string | Record<string, string>>, bin: Record<string, string> }
  const targets = Object.values(pkg.exports).flatMap((e) => typeof e === 'string' ? [e] : Object.values(e))
  return [...targets, ...Object.values(pkg.bin)].map((p) => p.replace(/^\.\//, ''))
}

/** A new project with the tarball, fastify, @types/node and what the README's snippets add (@fastify/otel, @types/pg) installed, and the files of test/consumer/app. */
async function install (tarball: string): Promise<string> {
  const app = join(work, 'app')
  mkdirSync(app)
  for (const name of readdirSync(fixture)) cpSync(join(fixture, name), join(app, name))
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }))
  await npm(app, ['install', '--ignore-scripts', '--no-audit', '--no-fund', tarball,
    `fastify@${installedVersion('fastify')}`, `@types/node@${installedVersion('@types/node')}`, `@fastify/otel@${installedVersion('@fastify/otel')}`, `@types/pg@${installedVersion('@types/pg')}`])
  return app
}

interface ReadmeBlock { line: number, code: string }

/** The ```ts blocks of README.md; `line` is the line of the opening fence. */
function readmeBlocks (): ReadmeBlock[] {
  const lines = readFileSync(join(root, 'README.md'), 'utf8').split('\n')
  const blocks: ReadmeBlock[] = []
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '```ts') continue
    const end = lines.indexOf('```', i + 1)
    if (end === -1) throw new Error(`README.md line ${i + 1}: the block is never closed`)
    blocks.push({ line: i + 1, code: lines.slice(i + 1, end).join('\n') })
    i = end
  }
  return blocks
}

/**
 * Type-check files of the consumer project, one program per call; the
 * diagnostics of every file in it, or with `own` only those of `rootNames`.
 */
function checker (app: string): (rootNames: string[], own?: boolean) => string[] {
  const parsed = ts.getParsedCommandLineOfConfigFile(join(app, 'tsconfig.json'), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')) }
  })
  if (parsed === undefined || parsed.errors.length > 0) throw new Error('test/consumer/app/tsconfig.json does not parse')
  const host = ts.createCompilerHost(parsed.options)
  const parse = host.getSourceFile.bind(host)
  const parsedFiles = new Map<string, ts.SourceFile | undefined>()
  host.getSourceFile = (name, ...rest) => {
    if (!parsedFiles.has(name)) parsedFiles.set(name, parse(name, ...rest))
    return parsedFiles.get(name)
  }
  const paths = { getCanonicalFileName: (f: string) => f, getCurrentDirectory: () => app, getNewLine: () => '\n' }
  const format = (diagnostics: readonly ts.Diagnostic[]): string[] =>
    diagnostics.map((d) => ts.formatDiagnostic(d, paths).trim())
  return (rootNames, own = false) => {
    const program = ts.createProgram({ rootNames: rootNames.map((f) => join(app, f)), options: parsed.options, host })
    if (!own) return format(ts.getPreEmitDiagnostics(program))
    const files = rootNames.map((f) => program.getSourceFile(join(app, f)) as ts.SourceFile)
    return format([
      ...program.getOptionsDiagnostics(),
      ...program.getGlobalDiagnostics(),
      ...files.flatMap((f) => [...program.getSyntacticDiagnostics(f), ...program.getSemanticDiagnostics(f)])
    ])
  }
}

let files: Set<string>
let checkout: string
let app: string
let check: ReturnType<typeof checker>

// One pack and one install serve every test below.
t.before(async () => {
  const packed = await pack()
  files = packed.files
  checkout = packed.checkout
  app = await install(packed.tarball)
  check = checker(app)
})

t.test('npm pack builds first (prepack): the tarball holds every file package.json points at, and every file those import', async (t) => {
  t.same(advertisedFiles().filter((f) => !files.has(f)), [], `missing from the tarball (${files.size} files)`)
  // The chunks the bundles share, and the TypeBox bundle, as the packed build imports them.
  const loaded = reachableFiles(checkout)
  t.same(loaded.missing, [], 'every import of the built entries names a file')
  t.same(loaded.files.filter((f) => !files.has(f)), [], `imported by the entries but missing from the tarball (${loaded.files.length} files)`)
})

t.test('the installed package runs: every entry point imports, and the bins answer --help', async (t) => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string, exports: Record<string, unknown> }
  const specifiers = Object.keys(pkg.exports).filter((k) => k !== './package.json').map((k) => pkg.name + k.slice(1))
  const script = `for (const s of ${JSON.stringify(specifiers)}) await import(s)`
  await t.resolves(run(process.execPath, ['--input-type=module', '-e', script], { cwd: app, env: npmEnv }), specifiers.join(', '))
  const { stdout } = await run(join(app, 'node_modules', '.bin', 'pywatt-dev'), ['--help'], { cwd: app, env: npmEnv })
  t.match(stdout, /^Usage: pywatt-dev/)
  const db = await run(join(app, 'node_modules', '.bin', 'pywatt-db'), ['--help'], { cwd: app, env: npmEnv })
  t.match(db.stdout, /^Usage: pywatt-db/)
})

t.test('the public API type-checks in a strict consumer project (test/consumer/app/api.ts)', async (t) => {
  t.same(check(['api.ts']), [], 'no diagnostics')
})

/** The optional peers (package.json peerDependenciesMeta): npm installs none of them unasked. */
const OPTIONAL_PEERS = Object.keys((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { peerDependenciesMeta: Record<string, unknown> }).peerDependenciesMeta)

t.test('the embedded defaults are installed with the package; the optional server drivers are not', async (t) => {
  t.same(OPTIONAL_PEERS.sort(), ['@fastify/postgres', '@fastify/redis', 'ioredis', 'memjs', 'mysql2', 'pg'])
  for (const name of ['better-sqlite3', 'lru-cache']) t.ok(existsSync(join(app, 'node_modules', name, 'package.json')), `${name} is installed`)
  t.same(OPTIONAL_PEERS.filter((name) => existsSync(join(app, 'node_modules', name))), [], 'no optional peer in node_modules')
})

t.test('a module on PostgreSQL without pg installed fails at start, naming pg and its install line', async (t) => {
  const script = `
    import Fastify from 'fastify'
    import pywatt from 'fastify-pywatt'
    const app = Fastify()
    try {
      await app.register(pywatt, { standalone: true, exitOnStop: false, health: false, cache: false, db: { url: 'postgres://127.0.0.1/x' } })
      console.log(JSON.stringify({ started: true }))
    } catch (err) {
      console.log(JSON.stringify({ code: err.code, message: err.message }))
    }
    await app.close().catch(() => {})
  `
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: app, env: { ...npmEnv, PYWATT_STANDALONE: '1' } })
  const outcome = JSON.parse(stdout.trim().split('\n').at(-1) as string) as { started?: boolean, code?: string, message?: string }
  t.equal(outcome.code, 'FST_PYWATT_DB_CONFIG')
  t.match(outcome.message, 'the postgres backend needs the "pg" package: npm install pg')
})

t.test('README.md\'s TypeScript blocks type-check in a strict consumer project, with the server drivers its install lines name', async (t) => {
  // Last: the tests above need a project without them.
  await npm(app, ['install', '--ignore-scripts', '--no-audit', '--no-fund', ...OPTIONAL_PEERS.map((name) => `${name}@${installedVersion(name)}`)])
  const blocks = readmeBlocks()
  t.ok(blocks.length > 0, 'README.md has ```ts blocks')
  for (const { line, code } of blocks) {
    const file = `readme-line-${line}.ts`
    writeFileSync(join(app, file), '\n'.repeat(line) + code + '\nexport {}\n')
    t.same(check(['readme-globals.d.ts', file], true), [], `the block at README.md line ${line}`)
  }
})
