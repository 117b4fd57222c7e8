/*
 * The built package holds one copy of its shared code. The public entries
 * (every export, the bin) are built together by esbuild with code splitting:
 * what two entries use lives in a chunk of dist/chunks/ that both import.
 * Module-level state (error classes, symbols, the secret registry, the stderr
 * sink, caches) must not split into one copy per entry: each entry would throw
 * its own class for the same code (`instanceof` would still hold, as
 * @fastify/error compares codes), a symbol one entry marks with would be
 * unknown to another (a token jwt refused and logged was logged again by the
 * root's error handler), and a process-wide registry would be one per entry.
 *
 * The static tests read the files Node loads from dist/ for the public entries
 * (following relative and `#` imports); the runtime tests import the entries by
 * the package's own name, through its `exports` map.
 */
import t, { type Test } from 'tap'
import { readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify'
import type * as Root from '../../plugins/index.js'
import type * as Jwt from '../../plugins/jwt.js'
import type * as IpcHttp from '../../plugins/ipc-http.js'
import type * as PortNegotiation from '../../plugins/port-negotiation.js'
import type * as Protocol from '../../lib/protocol/index.js'
import { FakeOrchestrator } from '../helpers/fake-orchestrator.js'
import { reachableFiles } from '../helpers/package-files.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const read = (file: string): string => readFileSync(join(ROOT, file), 'utf8')

const { files, missing } = reachableFiles(ROOT)
const code = new Map(files.filter((f) => f.endsWith('.js')).map((f) => [f, read(f)]))

/** `key → files` entries whose key is in more (or fewer) files than one. */
function notOnce (where: Map<string, Set<string>>, expected: Iterable<string> = where.keys()): Array<[string, string[]]> {
  return [...expected].map((key): [string, string[]] => [key, [...(where.get(key) ?? [])].sort()]).filter(([, f]) => f.length !== 1)
}

function add (where: Map<string, Set<string>>, key: string, file: string): void {
  where.set(key, (where.get(key) ?? new Set()).add(file))
}

t.test('the public entries and every file they import are built', async (t) => {
  t.same(missing, [], 'no import names a missing file')
  t.ok(files.some((f) => f.startsWith('dist/chunks/')), `shared code is in chunks (${files.length} files)`)
})

t.test('each FST_PYWATT_ error class is created in exactly one built file', async (t) => {
  // lib/errors.ts: `export const ERR_PYWATT_X = createError('FST_PYWATT_X', …)`.
  const declared = [...read('lib/errors.ts').matchAll(/\bcreateError\b[^(]*\(\s*'(FST_PYWATT_\w+)'/g)].map((m) => m[1] as string)
  t.ok(declared.length >= 25, `lib/errors.ts creates ${declared.length} error classes`)
  const created = new Map<string, Set<string>>()
  for (const [file, text] of code) {
    // The local name of @fastify/error's default export in this file, if it imports it.
    for (const [, name] of text.matchAll(/\bimport\s+([\w$]+)\s+from\s*["']@fastify\/error["']/g)) {
      for (const m of text.matchAll(new RegExp(String.raw`\b${name}\s*\(\s*["'](FST_PYWATT_\w+)["']`, 'g'))) add(created, m[1] as string, file)
    }
  }
  t.same(notOnce(created, declared), [], 'error codes created in no file or in several')
  t.same([...created.keys()].filter((c) => !declared.includes(c)), [], 'no error class is created outside lib/errors.ts')
})

t.test('each fastify-pywatt symbol is created in exactly one built file', async (t) => {
  // `Symbol.for('fastify-pywatt.internals')` (shared with sub-plugins), `Symbol('fastify-pywatt.logged')`.
  const made = new Map<string, Set<string>>()
  for (const [file, text] of code) {
    for (const m of text.matchAll(/\bSymbol(?:\.for)?\(\s*["'](fastify-pywatt\.[\w.-]+)["']\s*\)/g)) add(made, m[1] as string, file)
  }
  t.ok(made.has('fastify-pywatt.internals') && made.has('fastify-pywatt.logged'), `symbols found: ${[...made.keys()].join(', ')}`)
  t.same(notOnce(made), [], 'symbols created in several files')
})

/** The sources (relative to the repository) each built file's source map names, node_modules left out. */
function sourcesOf (file: string, text: string): string[] {
  const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(text)?.[1]
  if (url === undefined || url.startsWith('data:')) return []
  const mapFile = resolve(ROOT, dirname(file), url)
  const map = JSON.parse(readFileSync(mapFile, 'utf8')) as { sources: string[], sourceRoot?: string }
  return map.sources
    .map((s) => relative(ROOT, resolve(dirname(mapFile), map.sourceRoot ?? '', s)))
    .filter((s) => !s.split(/[\\/]/).includes('node_modules'))
}

/** Modules with module-level state that every entry must share. */
const STATEFUL = [
  'lib/errors.ts', // the error classes
  'lib/internals.ts', // the key of the root plugin's state for sub-plugins
  'lib/http/error-handler.ts', // the mark of a refusal already logged (set by jwt, read by the root's handler)
  'lib/logging/registry.ts', // the process-wide secret registry
  'lib/logging/stderr-sink.ts', // the process-wide stderr sink
  'lib/lifecycle/process-exit.ts', // whether the orchestrator is gone
  'lib/lifecycle/process-hooks.ts', // the crash logger
  'lib/services/service-client.ts', // one service client per channel
  'lib/resilience/cockatiel.ts', // the lazily loaded cockatiel
  'lib/protocol/validate.ts' // compiled schemas
]

t.test('each source module is compiled into one built file only (source maps), module-level state included', async (t) => {
  const builtFrom = new Map<string, Set<string>>()
  for (const [file, text] of code) for (const source of sourcesOf(file, text)) add(builtFrom, source, file)
  t.ok(builtFrom.size >= 50, `the source maps name ${builtFrom.size} source modules`)
  t.same(notOnce(builtFrom, STATEFUL), [], 'stateful modules in no file or in several')
  t.same(notOnce(builtFrom), [], 'modules compiled into several files')
})

// The entries, as a consumer imports them (the package refers to itself by its name).
const load = async <T>(specifier: string): Promise<T> => await import(specifier) as T

interface Booted { app: FastifyInstance, log: Array<Record<string, any>> }

/** An app on the built root plugin under a fake orchestrator, logging to memory through the built logger. */
async function boot (t: Test, values: Record<string, string> = {}): Promise<Booted> {
  const root = await load<typeof Root>('fastify-pywatt')
  const log: Array<Record<string, any>> = []
  const destination = new Writable({
    write (chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l.length > 0) log.push(JSON.parse(l) as Record<string, any>)
      cb()
    }
  })
  const orch = new FakeOrchestrator()
  orch.serveSecrets(values)
  const app = Fastify({ loggerInstance: root.pywattLogger({ level: 'debug', destination }) })
  t.after(() => app.close())
  orch.init()
  await app.register(root.default, { io: orch.io, health: false })
  return { app, log }
}

// @fastify/error answers `instanceof` by the error code (Symbol.hasInstance), so
// it holds even across copies of errors.ts: the class itself is compared.
t.test('runtime: the errors the sub-plugin and protocol entries throw are made by the very classes the root entry exports', async (t) => {
  const root = await load<typeof Root>('fastify-pywatt')
  const subPlugins: Array<[string, FastifyPluginAsync<any>]> = [
    ['fastify-pywatt/jwt', (await load<typeof Jwt>('fastify-pywatt/jwt')).default],
    ['fastify-pywatt/ipc-http', (await load<typeof IpcHttp>('fastify-pywatt/ipc-http')).default],
    ['fastify-pywatt/port-negotiation', (await load<typeof PortNegotiation>('fastify-pywatt/port-negotiation')).default]
  ]
  for (const [name, plugin] of subPlugins) {
    const { app } = await boot(t)
    const err = await app.register(plugin, { notAnOption: true }).then(() => null, (e: unknown) => e as Error)
    t.equal((err as { code?: string } | null)?.code, 'FST_PYWATT_INVALID_OPTIONS', `${name} refuses an unknown option`)
    t.equal(err?.constructor, root.ERR_PYWATT_INVALID_OPTIONS, `${name}: the root entry's ERR_PYWATT_INVALID_OPTIONS`)
  }
  const protocol = await load<typeof Protocol>('fastify-pywatt/protocol')
  const err = (() => { try { protocol.decodeOrchestratorMessage('not json') } catch (e) { return e as Error } })()
  t.equal(err?.constructor, root.ERR_PYWATT_PROTOCOL, "fastify-pywatt/protocol: the root entry's ERR_PYWATT_PROTOCOL")
})

t.test('runtime: a token the jwt entry refuses is logged once, by the jwt entry, and not again by the root entry\'s error handler', async (t) => {
  const jwt = (await load<typeof Jwt>('fastify-pywatt/jwt')).default
  const { app, log } = await boot(t, { JWT_SECRET: 'the-first-jwt-secret-0123456789abcdef' })
  await app.register(jwt)
  app.get('/protected', { config: { pywatt: { auth: 'jwt' } } }, async () => ({ ok: true }))
  await app.ready()
  log.length = 0
  const res = await app.inject({ url: '/protected', headers: { authorization: 'Bearer not.a.token' } })
  t.equal(res.statusCode, 401)
  t.same(res.json(), { statusCode: 401, code: 'FST_PYWATT_JWT_UNAUTHORIZED', error: 'Unauthorized', message: 'Unauthorized' })
  const about = log.filter((e) => e.msg !== 'incoming request' && e.msg !== 'request completed')
  t.same(about.map((e) => [e.level, e.msg]), [[40, 'jwt rejected']], 'one line about the refusal')
})
