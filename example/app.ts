import { fileURLToPath } from 'node:url'
import Fastify, { type FastifyInstance } from 'fastify'
import pywatt, { pywattLogger, type PyWattOptions } from '../plugins/index.js'
import routeDiscovery from '../plugins/route-discovery.js'
import ipcHttp from '../plugins/ipc-http.js'
import jwt, { type PyWattJwtOptions } from '../plugins/jwt.js'
import portNegotiation from '../plugins/port-negotiation.js'
import metrics from '../plugins/metrics.js'
import { itemParams, newItemBody } from './schemas.js'
import { stockLevel } from './stock/contract.js'

interface Item { id: number, name: string }

// The items table and its first row, with a variant of the table per dialect
// (the build copies the directory next to the compiled example).
const MIGRATIONS = fileURLToPath(new URL('./migrations', import.meta.url))

/**
 * The root plugin's options of the example: its secrets, and items in
 * `pywatt.db` (embedded SQLite in memory unless `opts.db` says otherwise, e.g.
 * `{ urlSecret: 'DATABASE_URL' }`), whose schema the migrations make before
 * `register` resolves.
 */
export function exampleOptions (opts: Partial<PyWattOptions> = {}): PyWattOptions {
  const { db: dbOption = { filename: ':memory:' }, ...rest } = opts
  return {
    secrets: ['API_KEY', 'JWT_SECRET'],
    ...rest,
    db: dbOption === false ? false : { migrations: MIGRATIONS, ...dbOption }
  }
}

/**
 * Bearer tokens signed with the JWT_SECRET secret (HS256); after a rotation the
 * previous key verifies for EXAMPLE_JWT_OVERLAP_MS (default 5 minutes).
 */
export function exampleJwtOptions (): PyWattJwtOptions {
  return { rotationOverlap: Number(process.env.EXAMPLE_JWT_OVERLAP_MS ?? 300_000) }
}

/**
 * The example module: a health route (from the root plugin), a few JSON routes
 * and one secret in use. `server.ts` starts it; tests build it with their own io.
 */
export async function buildApp (opts: Partial<PyWattOptions> = {}): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: pywattLogger() })
  await app.register(pywatt, exampleOptions(opts))
  await app.register(routeDiscovery)
  await app.register(ipcHttp)
  // init.listen with a port is used as given; otherwise the port is asked for (port_request).
  await app.register(portNegotiation)
  await app.register(jwt, exampleJwtOptions())
  // GET /metrics for Prometheus: per-route latency by transport, protocol and channel counters.
  await app.register(metrics)
  await registerRoutes(app)
  return app
}

/**
 * The example's routes, on an app where `fastify.pywatt` and the sub-plugins
 * (jwt for `auth: 'jwt'`) are registered; the list of items is cached in `pywatt.cache`.
 */
export async function registerRoutes (app: FastifyInstance): Promise<void> {
  const { db, cache } = app.pywatt
  const p = (n: number): string => db.placeholder(n)
  await cache.delete('items:list')
  let rotations = 0
  app.pywatt.secrets.onRotate(['API_KEY'], () => { rotations++ })

  app.get('/hello', async () => ({
    hello: 'world',
    module: app.pywatt.moduleId,
    keyLength: app.pywatt.secrets.get('API_KEY').length,
    rotations
  }))

  app.get('/api/items', async () => await cache.wrap('items:list', () => db.query<Item>('SELECT id, name FROM items ORDER BY id'), { ttl: 30_000 }))

  // Protected: announced with auth "jwt"; no valid token, no handler (401).
  app.get('/api/me', { config: { pywatt: { auth: 'jwt' } } }, async (req) => ({ sub: req.user.sub ?? null, exp: req.user.exp }))

  app.get<{ Params: { id: number } }>('/api/items/:id', {
    schema: { params: itemParams }
  }, async (req, reply) => {
    const item = await db.queryOne<Item>(`SELECT id, name FROM items WHERE id = ${p(1)}`, [req.params.id])
    if (item === undefined) return await reply.code(404).send({ error: 'not found' })
    return item
  })

  // Stock levels belong to the stock module (example/stock): asked through the
  // orchestrator, checked and typed by the contract both modules share.
  app.get<{ Params: { id: number } }>('/api/items/:id/stock', {
    schema: { params: itemParams }
  }, async (req) => {
    const { traceparent } = req.headers
    return await app.pywatt.modules.request('stock', 'level', { id: req.params.id }, {
      schema: stockLevel,
      timeout: 2_000,
      ...(typeof traceparent === 'string' ? { traceparent } : {})
    })
  })

  app.post<{ Body: { name: string } }>('/api/items', {
    schema: { body: newItemBody }
  }, async (req, reply) => {
    const name = req.body.name
    const id = db.dialect === 'postgres'
      ? (await db.queryOne<Item>(`INSERT INTO items (name) VALUES (${p(1)}) RETURNING id`, [name]))?.id
      : (await db.execute(`INSERT INTO items (name) VALUES (${p(1)})`, [name])).lastInsertId
    await cache.delete('items:list')
    return await reply.code(201).send({ id: Number(id), name })
  })

  app.post('/api/echo', async (req) => req.body)
}
