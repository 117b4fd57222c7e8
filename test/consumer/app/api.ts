// The public types as a consumer sees them: this file is type-checked (never
// run) in a project that installed the packed tarball (consumer.test.ts). A
// `// @ts-expect-error` line is code that must NOT compile: the check fails if
// it does. `expectType<T>(value)` compiles when the value is assignable to T,
// `same<A, B>()` only when A and B are the same type.
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type onRequestHookHandler } from 'fastify'
import { Type } from '@sinclair/typebox'
import pywatt, {
  closeOnSignals,
  configSecret,
  runModule,
  type ConfigChange,
  EXIT,
  mergeEndpoints,
  pywattLogger,
  REDACTED,
  registerFormat,
  registerSecret,
  stderrSink,
  type ChannelSetStats,
  type EndpointAnnounce,
  type InitBlob,
  type PyWattNamespace,
  type PyWattOptions,
  type PyWattRouteConfig,
  type RotationEvent,
  type StopReason,
  type BuildInfo
} from 'fastify-pywatt'
import ipcHttp, { type IpcHttpOptions } from 'fastify-pywatt/ipc-http'
import jwt, { JWT_REASONS, type JwtAlgorithm, type PyWattJwt, type PyWattJwtClaims } from 'fastify-pywatt/jwt'
import portNegotiation, { PORT_NEGOTIATION_DEFAULTS, type PortNegotiationOptions } from 'fastify-pywatt/port-negotiation'
import routeDiscovery, { announcePath } from 'fastify-pywatt/route-discovery'
import metrics, { UNMATCHED, type PyWattMetricsOptions, type RequestTransport } from 'fastify-pywatt/metrics'
import { decodeInit, decodeModuleMessage, decodeOrchestratorMessage, encodeHttpReply, encodeModuleMessage, parseStrictJson } from 'fastify-pywatt/protocol'
import { DevOrchestrator, type ModuleExit } from 'fastify-pywatt/dev'

declare function expectType<T> (value: T): void
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
declare function same<A, B> (...proof: Equal<A, B> extends true ? [] : [never]): void

// Claims are extended by declaration merging (optional here, so that the
// payloads below without it still compile).
declare module 'fastify-pywatt/jwt' {
  interface PyWattJwtClaims { role?: 'admin' | 'reader' }
}

const app = Fastify({ loggerInstance: pywattLogger({ level: 'info' }) })
const options: PyWattOptions = { secrets: ['API_KEY'], db: { url: 'sqlite::memory:' }, cache: { url: 'memory:' }, health: { maxEventLoopDelay: 500 }, ready: { cacheTtl: 2_000 }, buildInfo: { version: '1.0.0' } }
// db: discrete settings, a password secret, URL-style parameters and node:tls options (Buffers) outside the JSON schema.
expectType<PyWattOptions>({ db: { dialect: 'postgres', host: 'db.internal', user: 'app', database: 'app', passwordSecret: 'DB_PASSWORD', params: { sslmode: 'verify-full' }, tls: { ca: Buffer.from('') }, pool: { min: 1, maxLifetime: 1_800_000 } } })
// db.migrations: a directory, or its settings.
expectType<PyWattOptions>({ db: { urlSecret: 'DATABASE_URL', migrations: './migrations' } })
expectType<PyWattOptions>({ db: { url: 'sqlite::memory:', migrations: { dir: './migrations', table: 'app_migrations', lockTimeout: 5_000 } } })
// @ts-expect-error the settings need a dir
expectType<PyWattOptions>({ db: { migrations: { table: 'app_migrations' } } })
await app.register(pywatt, options)
await app.register(routeDiscovery)
await app.register(jwt, { secret: 'JWT_SECRET', algorithms: ['HS256'], expiresIn: 60_000 })
await app.register(ipcHttp, { concurrency: 100, dispatcher: 'lean' } satisfies IpcHttpOptions)
await app.register(portNegotiation, { port: 8123, fallback: true } satisfies PortNegotiationOptions)
await app.register(metrics, { bearerToken: { secret: 'METRICS_TOKEN' }, buckets: [0.01, 0.1, 1] } satisfies PyWattMetricsOptions)
// @ts-expect-error the bearer token is a string or { secret }
await app.register(metrics, { bearerToken: 42 })
// @ts-expect-error an option of the wrong type
await app.register(ipcHttp, { concurrency: '100' })
// @ts-expect-error the JWT algorithms are a closed list
await app.register(jwt, { algorithms: ['none'] })
const fastify: FastifyInstance = app

// fastify.pywatt
const ns: PyWattNamespace = app.pywatt
same<typeof ns.moduleId, string>()
same<typeof ns.standalone, boolean>()
same<typeof ns.replySource, string>()
same<typeof ns.build, Readonly<BuildInfo>>()
same<typeof ns.build.gitDirty, boolean | 'unknown'>()
same<typeof UNMATCHED, 'unmatched'>()
app.get('/transport', async (request) => { same<typeof request.pywattTransport, RequestTransport>(); return request.pywattTransport })
same<typeof ns.init.module_id, string>()
same<ReturnType<typeof ns.listen>, Promise<string>>()
same<ReturnType<typeof ns.endpoints>, EndpointAnnounce[]>()
same<typeof ns.stop, (reason?: StopReason) => Promise<void>>()
const init: Readonly<InitBlob> = ns.init
// @ts-expect-error the Init blob is read-only
app.pywatt.init = init
// @ts-expect-error so is the namespace
app.pywatt.moduleId = 'other'
expectType<Partial<Record<'stdio' | 'tcp' | 'ipc', string>>>(app.pywatt.channels.health())
expectType<ChannelSetStats>(app.pywatt.channels.stats())
expectType<() => void>(app.pywatt.channels.onModuleMessage((delivery) => { same<typeof delivery.op, 'routed_module_message' | 'routed_module_response'>() }))
same<typeof app.pywatt.negotiatePort, ((specific?: number) => Promise<number>) | undefined>()
same<typeof app.pywatt.jwt, PyWattJwt | undefined>()
expectType<number | undefined>(app.pywatt.ipcHttp?.served)

// fastify.pywatt.secrets
const secrets = app.pywatt.secrets
same<ReturnType<typeof secrets.get>, string>()
same<ReturnType<typeof secrets.peek>, string | undefined>()
same<ReturnType<typeof secrets.has>, boolean>()
same<ReturnType<typeof secrets.keys>, string[]>()
expectType<string>(await secrets.fetch('API_KEY', { refresh: true, timeout: 1_000 }))
expectType<Record<string, string>>(await secrets.fetchAll(['A', 'B']))
same<ReturnType<typeof secrets.int>, number>()
same<ReturnType<typeof secrets.bool>, boolean>()
same<ReturnType<typeof secrets.url>, URL>()
same<ReturnType<typeof secrets.duration>, number>()
expectType<{ region: string }>(secrets.json<{ region: string }>('CONFIG'))
expectType<() => void>(secrets.onRotate(['API_KEY'], (event) => { same<typeof event, RotationEvent>() }))
secrets.onRotate('*', async ({ key, value, rotationId }) => { same<[typeof key, typeof value, typeof rotationId], [string, string, string | undefined]>() })
// @ts-expect-error '*' or a list of names
secrets.onRotate('API_KEY', () => {})
same<typeof secrets.ignoredUnsolicited, number>()

// fastify.pywatt.db
interface ItemRow { id: number, name: string }
expectType<ItemRow[]>(await app.pywatt.db.query<ItemRow>('SELECT id, name FROM items WHERE id = ?', [1]))
expectType<ItemRow | undefined>(await app.pywatt.db.queryOne<ItemRow>('SELECT id, name FROM items WHERE id = ?', [1]))
expectType<Record<string, unknown>[]>(await app.pywatt.db.query('SELECT 1'))
same<Awaited<ReturnType<typeof app.pywatt.db.execute>>, { rowsAffected: number, lastInsertId?: number | bigint }>()
expectType<number>(await app.pywatt.db.transaction(async (tx) => (await tx.execute('UPDATE items SET n = n + 1')).rowsAffected))
same<typeof app.pywatt.db.dialect, 'postgres' | 'mysql' | 'sqlite'>()
same<ReturnType<typeof app.pywatt.db.placeholder>, string>()
expectType<string[]>((await app.pywatt.db.migrate('./migrations')).applied)
expectType<string[]>((await app.pywatt.db.migrate({ dir: './migrations', table: 'app.schema_migrations', lockTimeout: 5_000 })).applied)

// fastify.pywatt.cache: strings, Buffers and JSON values, interfaces included.
interface Item { id: number, name: string, note?: string, tags: string[], owner: { id: number } | null }
interface Tree { label: string, children: Tree[] }
const item: Item = { id: 1, name: 'a', tags: [], owner: null }
const cache = app.pywatt.cache
await cache.set('item', item, { ttl: 30_000 })
await cache.set('items', [item])
await cache.set('tree', { label: 'root', children: [] } satisfies Tree)
await cache.set('text', 'x')
await cache.set('bytes', Buffer.from('x'))
await cache.set('none', null)
const cached = await cache.get('item')
if (cached !== undefined) await cache.set('copy', cached)
await cache.setMany([['a', item], ['b', 1]])
await cache.setMany(new Map([['a', item]]))
await cache.setMany({ a: item, b: 'x' })
// @ts-expect-error a method does not survive the round trip
await cache.set('k', { id: 1, greet: () => 'hi' })
// @ts-expect-error a Date comes back as a string
await cache.set('k', { at: new Date() })
// @ts-expect-error undefined is not a value
await cache.set('k', undefined)
// @ts-expect-error nor is a bigint
await cache.set('k', { n: 1n })
// @ts-expect-error a Map is not JSON
await cache.setMany({ a: new Map<string, number>() })
expectType<Item | undefined>(await cache.get<Item>('item'))
expectType<Item[]>(await cache.wrap('items', async () => [item], { ttl: 30_000 }))
expectType<Array<Item | undefined>>(await cache.getMany<Item>(['a', 'b']))
expectType<number>(await cache.incr('hits'))
const token = await cache.lock('job', 5_000)
same<typeof token, string | null>()
if (token !== null) await cache.unlock('job', token)
expectType<number | undefined>(await cache.ttl('item'))
same<ReturnType<typeof cache.stats>, { hits: number, misses: number, sets: number, deletes: number, evictions: number | null }>()

// fastify-pywatt/jwt: @fastify/jwt's decorators, with the claims as payload and user.
app.get('/me', { config: { pywatt: { auth: 'jwt', announce: false } } }, async (request, reply) => {
  same<typeof request.user, PyWattJwtClaims>()
  same<typeof request.user.role, 'admin' | 'reader' | undefined>()
  const sub: string | undefined = request.user.sub
  const verified: PyWattJwtClaims = await request.jwtVerify<PyWattJwtClaims>()
  const signed: string = await reply.jwtSign({ sub: 'user-1', role: 'reader' })
  // @ts-expect-error not a role of the merged claims
  await reply.jwtSign({ role: 'root' })
  return { sub, verified, signed }
})
const onRequest: onRequestHookHandler = app.pywatt.jwt!.authenticate
app.get('/admin', { onRequest }, async (request: FastifyRequest, reply: FastifyReply) => {
  const signed: string = await reply.jwtSign({ sub: 'user-1' })
  return { user: request.user, signed }
})
const minted: string = app.pywatt.jwt!.sign({ sub: 'user-1' }, { expiresIn: 60_000 })
expectType<PyWattJwtClaims>(app.pywatt.jwt!.verify(minted))
expectType<{ current: string[], previous: string[] }>(app.pywatt.jwt!.keys())
expectType<PyWattJwtClaims | null>(fastify.jwt.decode<PyWattJwtClaims>(minted))
expectType<JwtAlgorithm>('HS256')
expectType<string>(JWT_REASONS.EXPIRED)

// Route config, typed on Fastify's FastifyContextConfig.
const routeConfig: PyWattRouteConfig = { auth: 'jwt', announce: false }
app.get('/hidden', { config: { pywatt: routeConfig } }, async () => 'ok')
// @ts-expect-error 'jwt' is the only auth
app.get('/basic', { config: { pywatt: { auth: 'basic' } } }, async () => 'ok')
// @ts-expect-error announce is a boolean
app.get('/typo', { config: { pywatt: { announce: 'no' } } }, async () => 'ok')

// Typed configuration: runModule types app.pywatt.config from its schema.
const Config = Type.Object({ greeting: Type.String(), workers: Type.Integer({ default: 2 }), key: configSecret(Type.String(), 'API_KEY') })
await runModule(async (configured) => {
  same<typeof configured.pywatt.config.workers, number>()
  same<typeof configured.pywatt.config.key, string>()
  // @ts-expect-error a key the schema does not have
  expectType<string>(configured.pywatt.config.nope)
  configured.pywatt.onConfigChange((change) => { same<typeof change, ConfigChange>() })
}, { config: Config, signals: false })

// The root exports.
expectType<number>(EXIT.REFUSED)
expectType<EndpointAnnounce[]>(mergeEndpoints([{ path: '/a', methods: ['get'], auth: 'jwt' }]))
registerSecret('hunter2')
registerFormat('iban', (text) => /^[A-Z]{2}\d{2}/.test(text))
// @ts-expect-error a check takes the text and answers a boolean
registerFormat('iban', (text: number) => text > 0)
expectType<string>(REDACTED)
expectType<Promise<unknown>>(stderrSink().flush(100))
expectType<number>(stderrSink().stats.dropped)
closeOnSignals(app, { signals: ['SIGTERM'] })
expectType<string>(announcePath('/items/:id'))
expectType<number[]>([...PORT_NEGOTIATION_DEFAULTS.timeouts])

// fastify-pywatt/protocol
expectType<InitBlob>(decodeInit('{}'))
expectType<string>(decodeOrchestratorMessage('{}').op)
expectType<string>(decodeModuleMessage('{}').op)
expectType<string>(encodeModuleMessage({ op: 'heartbeat_ack' }))
expectType<string>(encodeHttpReply({ request_id: 'r', status_code: 200, headers: {}, body: null }, 'module'))
expectType<unknown>(parseStrictJson('{"a":1}'))

// fastify-pywatt/dev
const dev = new DevOrchestrator({ command: process.execPath, args: ['server.js'], secrets: { API_KEY: 'x' } })
await dev.start()
expectType<EndpointAnnounce[]>(await dev.announced(5_000))
expectType<ModuleExit>(await dev.shutdown(1_000))
// @ts-expect-error the command is required
expectType<DevOrchestrator>(new DevOrchestrator({}))
