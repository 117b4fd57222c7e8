/*
 * The generator's renderer, for every combination of choices: the file set
 * each one writes, and that every TypeScript project type-checks against this
 * repository's own sources. The rendered projects are never written: one
 * compiler program holds them all at paths under the repository (so `fastify`
 * and `@types/node` resolve from its node_modules), with `fastify-pywatt`
 * mapped to the sources of its entries, under the tsconfig they are rendered
 * with. One program parses the package once: the check takes seconds.
 */
import t from 'tap'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { everyCombination, type Choices, type Versions } from '../../lib/create/choices.js'
import { render } from '../../lib/create/render.js'
import { ownVersions } from '../../lib/create/versions.js'
import { resolveDevConfig } from '../../lib/dev/config.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const versions: Versions = ownVersions()
const combos = everyCombination()

const label = (c: Choices): string =>
  [c.typescript ? 'ts' : 'js', `db=${c.db}`, `cache=${c.cache}`, c.jwt && 'jwt', c.ipc && 'ipc', c.metrics && 'metrics', c.migrations && 'migrations'].filter(Boolean).join(' ')

/** The files a combination must have, exactly: the rules of the issue, written out independently of the renderer. */
function expectedFiles (c: Choices): string[] {
  const x = c.typescript ? 'ts' : 'js'
  const files = ['package.json', '.env.example', 'pywatt.dev.json', '.gitignore', 'README.md', '.github/workflows/ci.yml',
    `src/app.${x}`, `src/server.${x}`, `src/routes/hello.${x}`, `test/secrets.${x}`, `test/app.test.${x}`, `test/module.test.${x}`]
  if (c.typescript) files.push('tsconfig.json')
  if (c.db !== 'none') files.push(c.migrations ? `src/routes/notes.${x}` : `src/routes/database.${x}`)
  if (c.migrations) files.push('migrations/001.create-notes.sql')
  if (c.cache !== 'none') files.push(`src/routes/cache.${x}`)
  if (c.jwt) files.push(`src/routes/me.${x}`)
  return files.sort()
}

/** The packages a server choice adds: its driver, and the Fastify plugin the root plugin registers over it. */
const DRIVERS = { postgres: ['pg', '@fastify/postgres'], mysql: ['mysql2'], redis: ['ioredis', '@fastify/redis'], memcached: ['memjs'] } as const

/** What is wrong with one rendered combination, as messages (none when it follows the rules). */
function problemsOf (c: Choices): string[] {
  const files = render(c, versions)
  const out: string[] = []
  const same = (what: string, actual: unknown, expected: unknown): void => {
    if (JSON.stringify(actual) !== JSON.stringify(expected)) out.push(`${what}: ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`)
  }
  same('file set', [...files.keys()].sort(), expectedFiles(c))
  const pkg = JSON.parse(files.get('package.json') as string) as { scripts: Record<string, string>, dependencies: Record<string, string> }
  same('scripts', Object.keys(pkg.scripts).sort(), ['build', 'dev', 'start', 'test'])
  // `pywatt-dev` with no command reads pywatt.dev.json, which must be a config pywatt-dev takes, running this module.
  if (!/(?:^|&& )pywatt-dev$/.test(pkg.scripts.dev as string)) out.push(`dev does not run pywatt-dev on its config file: ${pkg.scripts.dev}`)
  try {
    const dev = resolveDevConfig(JSON.parse(files.get('pywatt.dev.json') as string), '/project')
    const [module] = dev.modules
    same('pywatt-dev modules', dev.modules.length, 1)
    same('the module pywatt-dev runs', [module?.command, module?.args], ['node', [c.typescript ? 'dist/src/server.js' : 'src/server.js']])
    same('its secrets', module?.envFiles, ['/project/.env.example'])
    same('how the gateway reaches it', module?.via, c.ipc ? 'stdio' : 'http')
  } catch (err) {
    out.push(`pywatt.dev.json: ${(err as Error).message}`)
  }
  const drivers = [c.db, c.cache].flatMap((k) => k in DRIVERS ? DRIVERS[k as keyof typeof DRIVERS] : [])
  same('dependencies', Object.keys(pkg.dependencies).sort(), ['fastify', 'fastify-pywatt', ...drivers].sort())
  same('fastify-pywatt range', pkg.dependencies['fastify-pywatt'], versions.pywatt)
  const secrets = (files.get('.env.example') as string).split('\n').filter((l) => /^[A-Z_]+=/.test(l)).map((l) => l.split('=')[0])
  same('.env.example secrets', secrets, [c.db !== 'none' && 'DATABASE_URL', c.cache !== 'none' && 'CACHE_URL', c.jwt && 'JWT_SECRET'].filter(Boolean))
  for (const [path, text] of files) {
    if (!/\.[jt]s$/.test(path)) continue
    if (/\n\n\n|^\s*(false|undefined)$/m.test(text) || text.startsWith('\n') || text.endsWith('\n\n')) out.push(`${path}: stray blank lines or leftovers`)
  }
  return out
}

t.test('every combination of choices renders its file set, package.json scripts and dependencies, and secrets', async (t) => {
  t.equal(combos.length, 448, '7 database/migration pairs × 4 caches × 8 (jwt, ipc, metrics) × 2 languages')
  const problems = Object.fromEntries(combos.map((c) => [label(c), problemsOf(c)]).filter(([, p]) => p.length > 0))
  t.same(problems, {}, 'no combination breaks a rule')
})

t.test('a scoped package runs under pywatt-dev by its name without the scope', async (t) => {
  const files = render({ ...combos[0] as Choices, name: '@acme/orders' }, versions)
  t.equal(resolveDevConfig(JSON.parse(files.get('pywatt.dev.json') as string), '/p').modules[0]?.name, 'orders')
})

t.test('migrations without a database are refused', async (t) => {
  t.throws(() => render({ ...combos[0] as Choices, db: 'none', migrations: true }, versions), /migrations need a database/)
})

/** The entries a generated project imports, mapped to this repository's sources. */
const PATHS = {
  'fastify-pywatt': [join(root, 'plugins/index.ts')],
  'fastify-pywatt/jwt': [join(root, 'plugins/jwt.ts')],
  'fastify-pywatt/dev': [join(root, 'lib/dev/index.ts')]
}

t.test('every combination type-checks against this repository\'s types: TypeScript under the rendered tsconfig, JavaScript by its // @ts-check', async (t) => {
  const virtual = new Map<string, string>()
  const rootNames: string[] = []
  const owner = new Map<string, string>()
  let options: ts.CompilerOptions | undefined
  combos.forEach((c, i) => {
    const dir = join(root, '.create-check', String(i))
    for (const [path, text] of render(c, versions)) {
      const file = join(dir, path)
      virtual.set(file, text)
      owner.set(file, label(c))
      if (/\.[jt]s$/.test(path)) rootNames.push(file)
      if (path.endsWith('.js') && !text.startsWith('// @ts-check\n')) t.fail(`${label(c)}: ${path} is not checked by an editor`)
      if (path === 'tsconfig.json' && options === undefined) {
        const parsed = ts.parseJsonConfigFileContent(JSON.parse(text), ts.sys, dir)
        // allowJs takes the JavaScript projects in; each of their files opts into checking as an editor sees it.
        options = { ...parsed.options, noEmit: true, rootDir: undefined, outDir: undefined, paths: PATHS, allowJs: true, checkJs: false }
      }
    }
  })
  const host = ts.createCompilerHost(options as ts.CompilerOptions)
  const dirs = new Set([...virtual.keys()].flatMap((f) => {
    const up: string[] = []
    for (let d = dirname(f); d.length > root.length; d = dirname(d)) up.push(d)
    return up
  }))
  const { fileExists, directoryExists, readFile, getSourceFile } = host
  host.fileExists = (f) => virtual.has(f) || fileExists.call(host, f)
  host.directoryExists = (d) => dirs.has(d) || (directoryExists?.call(host, d) ?? true)
  host.readFile = (f) => virtual.get(f) ?? readFile.call(host, f)
  host.getSourceFile = (f, lang, ...rest) => {
    const text = virtual.get(f)
    return text === undefined ? getSourceFile.call(host, f, lang, ...rest) : ts.createSourceFile(f, text, lang)
  }
  host.getCurrentDirectory = () => root
  const program = ts.createProgram({ rootNames, options: options as ts.CompilerOptions, host })
  const problems = new Map<string, string[]>()
  for (const file of rootNames) {
    const source = program.getSourceFile(file) as ts.SourceFile
    for (const d of [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)]) {
      const where = `${owner.get(file)}: ${file.slice(root.length + 1)}`
      problems.set(where, [...problems.get(where) ?? [], ts.flattenDiagnosticMessageText(d.messageText, '\n')])
    }
  }
  t.same(program.getOptionsDiagnostics().map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')), [], 'the rendered tsconfig is valid')
  const js = rootNames.filter((f) => f.endsWith('.js')).length
  t.ok(js > 0 && js < rootNames.length, 'both languages are in the program')
  t.same(Object.fromEntries(problems), {}, `${rootNames.length} files (${js} JavaScript) of ${combos.length} projects`)
})
