import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { Static } from '#typebox'
import { CACHE_DEFAULTS, createBackend, createCache, type Cache } from '../cache/index.js'
import { Database, createDriver, resolveDatabaseConfig } from '../db/index.js'
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
  const { urlSecret: _secret, ...rest } = option
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
        log.info({ secret }, 'database pool swapped after rotation')
      })
    }
  }

  if (wiring.cache !== false) {
    const option = wiring.cache ?? {}
    const { urlSecret, ...rest } = option
    const url = urlSecret === undefined ? option.url : await secrets.fetch(urlSecret)
    const open = (): Cache => {
      cache ??= createCache({ ...rest, url })
      return cache
    }
    if (url !== undefined) open()
    Object.defineProperty(namespace, 'cache', { enumerable: true, get: open })
    if (urlSecret !== undefined) {
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
        // Two command timeouts: a command sent just before the swap has finished or failed by then.
        open().replace(backend, 2 * (rest.commandTimeout ?? CACHE_DEFAULTS.commandTimeout) + 100)
        log.info({ secret: urlSecret }, 'cache client swapped after rotation')
      })
    }
  }

  app.addHook('onClose', async () => {
    await Promise.all([db?.close(), cache?.close()])
  })
}
