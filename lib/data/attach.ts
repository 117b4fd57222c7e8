import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { Static } from '#typebox'
import { CACHE_DEFAULTS, createBackend, createCache, type Cache } from '../cache/index.js'
import type { ConnectionOptions } from 'node:tls'
import { Database, createDriver, resolveDatabaseConfig, type DatabaseOptions } from '../db/index.js'
import type { SecretStore } from '../secrets/store.js'
import type { CacheOptionSchema, DbOptionSchema } from './options.js'

/** The root's `db` option with its non-JSON `tls` (node:tls options, Buffers allowed) put back. */
export type DbWiringOption = false | (Exclude<Static<typeof DbOptionSchema>, false> & { tls?: ConnectionOptions })
type CacheOption = Static<typeof CacheOptionSchema>

/** What the root plugin hands to {@link attachData}. */
export interface DataWiring {
  db?: DbWiringOption
  cache?: CacheOption
  secrets: SecretStore
  log: FastifyBaseLogger
}

function dbSettings (option: Exclude<DbWiringOption, false>, url: string | undefined, password: string | undefined): DatabaseOptions {
  const { urlSecret: _url, passwordSecret: _password, ...rest } = option
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
 * them creates no file. `onClose` closes only what was created here.
 */
export async function attachData (app: FastifyInstance, namespace: object, wiring: DataWiring): Promise<void> {
  const { secrets, log } = wiring
  let db: Database | undefined
  let cache: Cache | undefined

  if (wiring.db !== false) {
    const option = wiring.db ?? {}
    const { urlSecret, passwordSecret } = option
    let url = urlSecret === undefined ? option.url : await secrets.fetch(urlSecret)
    let password = passwordSecret === undefined ? undefined : await secrets.fetch(passwordSecret)
    const config = resolveDatabaseConfig(dbSettings(option, url, password))
    const open = (): Database => {
      db ??= new Database(createDriver(config, log), log)
      return db
    }
    if (config.dialect !== 'sqlite' || url !== undefined) open()
    Object.defineProperty(namespace, 'db', { enumerable: true, get: open })
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
