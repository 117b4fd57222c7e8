import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { Static } from '#typebox'
import type { ConnectionOptions } from 'node:tls'
import { CACHE_DEFAULTS, createBackend, createCache, redisSettings, type Cache } from '../cache/index.js'
import { RedisBackend } from '../cache/redis.js'
import { Database, createDriver, resolveDatabaseConfig, type DatabaseOptions } from '../db/index.js'
import { DEFAULT_LOCK_TIMEOUT } from '../db/migrations/runner.js'
import { PostgresDriver } from '../db/postgres.js'
import { registerFastifyPostgres, type LivePool } from './fastify-postgres.js'
import { registerFastifyRedis } from './fastify-redis.js'
import type { SecretStore } from '../secrets/store.js'
import type { Internals } from '../internals.js'
import type { CacheOptionSchema, DbOptionSchema } from './options.js'
import { checkProxiedCache, checkProxiedDb, openProxiedCache, openProxiedDatabase, refuseWithoutVia } from './proxied.js'
import { ERR_PYWATT_CACHE_CONFIG, ERR_PYWATT_DB_CONFIG } from '../errors.js'
import type { StdioChannel } from '../transport/stdio-channel.js'

/** The root's `db` option with its non-JSON `tls` (node:tls options, Buffers allowed) put back. */
export type DbWiringOption = false | (Exclude<Static<typeof DbOptionSchema>, false> & { tls?: ConnectionOptions })
type CacheOption = Static<typeof CacheOptionSchema>

/** What the root plugin hands to {@link attachData}. */
export interface DataWiring {
  db?: DbWiringOption
  cache?: CacheOption
  secrets: SecretStore
  /** The orchestrator link (`null` standalone), for `via: 'orchestrator'`. */
  channel: StdioChannel | null
  log: FastifyBaseLogger
  /** Where the opened database is recorded (`database`) and its statements observed (`observation`). */
  internals: Pick<Internals, 'database' | 'observation'>
  /** Cut a wait of the start to what Fastify's `pluginTimeout` leaves (the migration lock's). */
  clampWait: (ms: number) => number
}

function dbSettings (option: Exclude<DbWiringOption, false>, url: string | undefined, password: string | undefined): DatabaseOptions {
  const { urlSecret: _url, passwordSecret: _password, fastifyPostgres: _pg, migrations: _migrations, via: _via, commandTimeout: _timeout, ...rest } = option
  const out: DatabaseOptions = rest
  if (url !== undefined) out.url = url
  if (password !== undefined) out.password = password
  return out
}

/**
 * Define `namespace.db` and `namespace.cache`. The database settings are
 * checked now, with the URL and password secrets fetched (a bad setting
 * refuses the start), and both secrets are followed on rotation: a new pool
 * is built with the new value and swapped in once it answers. A server's pool
 * is created at start; the embedded defaults (SQLite under the data
 * directory, in-memory cache) on first use, so a module that never touches
 * them creates no file. With `via: 'orchestrator'` both are the orchestrator's
 * services, whose connections are opened at start (a refusal fails it). The
 * `migrations` are applied at start, and not on a rotation: a new URL or
 * password reaches the same database. `onClose` closes only what was created here.
 */
export async function attachData (app: FastifyInstance, namespace: object, wiring: DataWiring): Promise<void> {
  const { secrets, log, internals } = wiring
  let db: Database | undefined
  let cache: Cache | undefined

  if (wiring.db !== false && wiring.db?.via === 'orchestrator') {
    checkProxiedDb(wiring.db)
    const proxied = await openProxiedDatabase(wiring.channel, wiring.db, log, internals.observation)
    db = proxied
    internals.database = proxied
    Object.defineProperty(namespace, 'db', { enumerable: true, get: () => proxied })
  } else if (wiring.db !== false) {
    const option = wiring.db ?? {}
    refuseWithoutVia(option.commandTimeout, 'db.commandTimeout', (message) => new ERR_PYWATT_DB_CONFIG(message))
    const { urlSecret, passwordSecret } = option
    let url = urlSecret === undefined ? option.url : await secrets.fetch(urlSecret)
    let password = passwordSecret === undefined ? undefined : await secrets.fetch(passwordSecret)
    const config = resolveDatabaseConfig(dbSettings(option, url, password))
    const open = (): Database => {
      if (db === undefined) {
        db = new Database(createDriver(config, log), log, internals.observation)
        internals.database = db
      }
      return db
    }
    if (config.dialect !== 'sqlite' || url !== undefined || option.migrations !== undefined) open()
    if (option.migrations !== undefined) {
      const migrations = typeof option.migrations === 'string' ? { dir: option.migrations } : option.migrations
      // A lock wait past pluginTimeout would end the start with avvio's bare error (exit 1), not the refusal (exit 2).
      const lockTimeout = wiring.clampWait(migrations.lockTimeout ?? DEFAULT_LOCK_TIMEOUT)
      try {
        const { applied } = await open().migrate({ ...migrations, lockTimeout })
        if (applied.length > 0) log.info({ applied }, `applied ${applied.length} database migration(s)`)
      } catch (err) {
        await db?.close()
        throw err
      }
    }
    Object.defineProperty(namespace, 'db', { enumerable: true, get: open })
    let livePool: LivePool | undefined
    // fastify.pg over the same pool: only for PostgreSQL, and not over an app's own @fastify/postgres.
    if (db !== undefined && db.dialect === 'postgres' && option.fastifyPostgres !== false) {
      // An app's named instances (`fastify.pg.<name>`) live beside ours; an unnamed one is kept instead of ours.
      if (app.hasDecorator('pg') && hasPool(Reflect.get(app, 'pg'))) {
        log.info('fastify.pg was registered by the app before fastify-pywatt: it is kept, and does not follow rotations of the database')
      } else {
        livePool = await registerFastifyPostgres(app, db)
      }
    }
    const rotated = async (secret: string, what: string): Promise<void> => {
      let driver
      try {
        driver = createDriver(resolveDatabaseConfig(dbSettings(option, url, password)), log)
        await driver.ping()
      } catch (err) {
        await driver?.close().catch(/* c8 ignore next */ () => {})
        log.error({ err: { message: (err as Error).message }, secret }, `the rotated database ${what} does not work; keeping the current pool`)
        return
      }
      open().replace(driver)
      if (livePool !== undefined) {
        if (driver instanceof PostgresDriver) livePool.adopt(driver.pool)
        else log.warn({ secret, dialect: driver.dialect }, 'the rotated database URL is not PostgreSQL: fastify.pg refuses work from now on')
      }
      log.info({ secret }, 'database pool swapped after rotation')
    }
    if (urlSecret !== undefined) {
      secrets.onRotate([urlSecret], async ({ value }) => {
        url = value
        await rotated(urlSecret, 'URL')
      })
    }
    if (passwordSecret !== undefined) {
      secrets.onRotate([passwordSecret], async ({ value }) => {
        password = value
        await rotated(passwordSecret, 'password')
      })
    }
  }

  if (wiring.cache !== false && wiring.cache?.via === 'orchestrator') {
    checkProxiedCache(wiring.cache)
    const proxied = await openProxiedCache(wiring.channel, wiring.cache, log)
    cache = proxied
    Object.defineProperty(namespace, 'cache', { enumerable: true, get: () => proxied })
  } else if (wiring.cache !== false) {
    const option = wiring.cache ?? {}
    refuseWithoutVia(option.pool, 'cache.pool', (message) => new ERR_PYWATT_CACHE_CONFIG(message))
    const { urlSecret, fastifyRedis: _redis, via: _via, pool: _pool, ...rest } = option
    const url = urlSecret === undefined ? option.url : await secrets.fetch(urlSecret)
    const open = (): Cache => {
      cache ??= createCache({ ...rest, url })
      return cache
    }
    if (url !== undefined) open()
    Object.defineProperty(namespace, 'cache', { enumerable: true, get: open })
    let redisClient: RedisBackend['client'] | undefined
    const first = cache?.backend
    // fastify.redis is the cache's own client: only for a Redis URL, and not over an app's own @fastify/redis.
    if (first instanceof RedisBackend && option.fastifyRedis !== false) {
      if (app.hasDecorator('redis')) {
        log.info('fastify.redis was registered by the app before fastify-pywatt: it is kept, and does not follow rotations of the cache URL')
      } else {
        await registerFastifyRedis(app, first.client, rest.commandTimeout ?? CACHE_DEFAULTS.commandTimeout, log)
        redisClient = first.client
      }
    }
    if (urlSecret !== undefined) {
      // Two command timeouts: a command sent just before the swap has finished or failed by then.
      const grace = 2 * (rest.commandTimeout ?? CACHE_DEFAULTS.commandTimeout) + 100
      secrets.onRotate([urlSecret], async ({ value }) => {
        let backend
        try {
          backend = createBackend({ ...rest, url: value })
          // A round trip proves the new server answers before any command goes there.
          // Bounded: a Cluster client whose startup nodes never answer keeps commands queued.
          await probe(backend, rest.commandTimeout ?? CACHE_DEFAULTS.commandTimeout)
        } catch (err) {
          await backend?.close().catch(/* c8 ignore next */ () => {})
          log.error({ err: { message: (err as Error).message }, secret: urlSecret }, 'the rotated cache URL does not work; keeping the current client')
          return
        }
        const current = open().backend
        const settings = redisSettings({ ...rest, url: value })
        if (current instanceof RedisBackend && settings !== undefined && current.canRetarget(settings)) {
          // Redis to Redis of the same topology (one server, a cluster, sentinels): the same client reconnects to the new server(s), so
          // fastify.redis, its listeners and subscriptions stay one object.
          await backend.close().catch(/* c8 ignore next */ () => {})
          if (!await current.retarget(settings, grace)) {
            log.warn({ secret: urlSecret }, 'the cache client is not ready on the rotated URL yet; ioredis keeps reconnecting')
          }
          log.info({ secret: urlSecret }, 'cache client swapped to the rotated URL (the same client, reconnected in place)')
          return
        }
        open().replace(backend, grace)
        if (redisClient !== undefined && current instanceof RedisBackend && current.client === redisClient) {
          const to = backend instanceof RedisBackend ? `Redis (${backend.topology})` : backend.kind
          log.warn({ secret: urlSecret, kind: backend.kind }, `the rotated cache URL is ${to}, not Redis (${current.topology}) like the previous one: fastify.redis is closed with the previous client`)
        }
        log.info({ secret: urlSecret }, 'cache client swapped after rotation')
      })
    }
  }

  app.addHook('onClose', async () => {
    await Promise.all([db?.close(), cache?.close()])
  })
}

/** One round trip to the backend, failed after `timeout` ms. */
async function probe (backend: { has: (key: string) => Promise<boolean> }, timeout: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([
      backend.has('pywatt:rotation-probe'),
      new Promise((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(`no answer within ${timeout} ms`)) }, timeout) })
    ])
  } finally {
    clearTimeout(timer)
  }
}

/** An unnamed @fastify/postgres instance: `fastify.pg` with a pool of its own (named ones only hold `fastify.pg.<name>`). */
function hasPool (pg: unknown): boolean {
  return typeof pg === 'object' && pg !== null && 'pool' in pg && pg.pool !== undefined
}
