import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { Static } from '#typebox'
import { CACHE_DEFAULTS, createBackend, createCache, redisSettings, type Cache } from '../cache/index.js'
import { RedisBackend } from '../cache/redis.js'
import { Database, createDriver, resolveDatabaseConfig } from '../db/index.js'
import { PostgresDriver } from '../db/postgres.js'
import { registerFastifyPostgres, type LivePool } from './fastify-postgres.js'
import { registerFastifyRedis } from './fastify-redis.js'
import type { SecretStore } from '../secrets/store.js'
import type { CacheOptionSchema, DbOptionSchema } from './options.js'

type DbOption = Static<typeof DbOptionSchema>
type CacheOption = Static<typeof CacheOptionSchema>

/** What the root plugin hands to {@link attachData}. */
export interface DataWiring {
  db?: DbOption
  cache?: CacheOption
  secrets: SecretStore
  log: FastifyBaseLogger
}

function dbSettings (option: Exclude<DbOption, false>, url: string | undefined): Parameters<typeof resolveDatabaseConfig>[0] {
  const { urlSecret: _secret, fastifyPostgres: _pg, ...rest } = option
  return url === undefined ? rest : { ...rest, url }
}

/**
 * Define `namespace.db` and `namespace.cache`. A URL secret is fetched now (a
 * bad URL refuses the start) and followed on rotation; without a URL the
 * embedded defaults (SQLite under the data directory, in-memory cache) are
 * created on first use, so a module that never touches them creates no file.
 * `onClose` closes only what was created here.
 */
export async function attachData (app: FastifyInstance, namespace: object, wiring: DataWiring): Promise<void> {
  const { secrets, log } = wiring
  let db: Database | undefined
  let cache: Cache | undefined

  if (wiring.db !== false) {
    const option = wiring.db ?? {}
    const secret = option.urlSecret
    const url = secret === undefined ? option.url : await secrets.fetch(secret)
    const open = (): Database => {
      db ??= new Database(createDriver(resolveDatabaseConfig(dbSettings(option, url)), log), log)
      return db
    }
    if (url !== undefined) open()
    Object.defineProperty(namespace, 'db', { enumerable: true, get: open })
    let livePool: LivePool | undefined
    // fastify.pg over the same pool: only for a PostgreSQL URL, and not over an app's own @fastify/postgres.
    if (db !== undefined && db.dialect === 'postgres' && option.fastifyPostgres !== false) {
      // An app's named instances (`fastify.pg.<name>`) live beside ours; an unnamed one is kept instead of ours.
      if (app.hasDecorator('pg') && (app as unknown as { pg?: { pool?: unknown } }).pg?.pool !== undefined) {
        log.info('fastify.pg was registered by the app before fastify-pywatt: it is kept, and does not follow rotations of the database URL')
      } else {
        livePool = await registerFastifyPostgres(app, db, log)
      }
    }
    if (secret !== undefined) {
      secrets.onRotate([secret], async ({ value }) => {
        let driver
        try {
          driver = createDriver(resolveDatabaseConfig(dbSettings(option, value)), log)
          await driver.ping()
        } catch (err) {
          await driver?.close().catch(/* c8 ignore next */ () => {})
          log.error({ err: { message: (err as Error).message }, secret }, 'the rotated database URL does not work; keeping the current pool')
          return
        }
        open().replace(driver)
        if (livePool !== undefined) {
          if (driver instanceof PostgresDriver) livePool.adopt(driver.pool)
          else log.warn({ secret, dialect: driver.dialect }, 'the rotated database URL is not PostgreSQL: fastify.pg refuses work from now on')
        }
        log.info({ secret }, 'database pool swapped after rotation')
      })
    }
  }

  if (wiring.cache !== false) {
    const option = wiring.cache ?? {}
    const { urlSecret, fastifyRedis: _redis, ...rest } = option
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
          await backend.has('pywatt:rotation-probe')
        } catch (err) {
          await backend?.close().catch(/* c8 ignore next */ () => {})
          log.error({ err: { message: (err as Error).message }, secret: urlSecret }, 'the rotated cache URL does not work; keeping the current client')
          return
        }
        const current = open().backend
        const settings = redisSettings({ ...rest, url: value })
        if (current instanceof RedisBackend && settings !== undefined) {
          // Redis to Redis: the same client reconnects to the new server, so
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
          log.warn({ secret: urlSecret, kind: backend.kind }, 'the rotated cache URL is not Redis: fastify.redis is closed with the previous client')
        }
        log.info({ secret: urlSecret }, 'cache client swapped after rotation')
      })
    }
  }

  app.addHook('onClose', async () => {
    await Promise.all([db?.close(), cache?.close()])
  })
}
