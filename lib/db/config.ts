import { isAbsolute, resolve } from 'node:path'
import { ERR_PYWATT_DB_CONFIG } from '../errors.js'
import { mergeUrlOptions, parseServiceUrl } from '../data/url.js'
import { queryParams, resolveConnectionParams } from './tls.js'
import type { DatabaseOptions, Dialect, PoolOptions, ResolvedDatabaseConfig } from './types.js'

/** Pool defaults (the Rust and Python SDKs' values). */
export const DEFAULT_POOL: Required<PoolOptions> = Object.freeze({
  max: 10,
  min: 0,
  idleTimeout: 300_000,
  maxLifetime: 0,
  acquireTimeout: 30_000
})

/** The default SQLite file name inside the data directory. */
export const DEFAULT_SQLITE_FILE = 'pywatt.sqlite'

const SCHEMES: Record<string, Dialect> = {
  'postgres:': 'postgres',
  'postgresql:': 'postgres',
  'mysql:': 'mysql',
  'mariadb:': 'mysql',
  'sqlite:': 'sqlite'
}

const DEFAULT_PORT: Record<Dialect, number> = { postgres: 5432, mysql: 3306, sqlite: 0 }
const DEFAULT_USER: Record<Dialect, string> = { postgres: 'postgres', mysql: 'root', sqlite: '' }

/** The data directory: `PYWATT_DATA_DIR`, else `./data`, resolved against the working directory. */
export function dataDirectory (dir?: string, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(dir ?? env.PYWATT_DATA_DIR ?? 'data')
}

/**
 * Parse a database URL; the password is registered for scrubbing. The query
 * comes back as `params`, checked by {@link resolveDatabaseConfig}.
 */
export function parseDatabaseUrl (url: string): DatabaseOptions {
  const u = parseServiceUrl(url, SCHEMES, (message) => new ERR_PYWATT_DB_CONFIG(message), 'database')
  const params = queryParams(u.query)
  const withParams = (o: DatabaseOptions): DatabaseOptions => Object.keys(params).length === 0 ? o : { ...o, params }
  if (u.kind === 'sqlite') return withParams({ dialect: u.kind, filename: u.location })
  const out: DatabaseOptions = { dialect: u.kind, host: u.host }
  if (u.port !== undefined) out.port = u.port
  if (u.user !== undefined) out.user = u.user
  if (u.password !== undefined) out.password = u.password
  if (u.path !== '') out.database = u.path
  return withParams(out)
}

function positive (value: number | undefined, name: string, fallback: number, least = 1): number {
  if (value === undefined) return fallback
  if (!Number.isInteger(value) || value < least) throw new ERR_PYWATT_DB_CONFIG(`pool.${name} must be ${least === 0 ? 'a non-negative' : 'a positive'} integer`)
  return value
}

/** Apply the defaults to URL and explicit settings (explicit fields win). */
export function resolveDatabaseConfig (options: DatabaseOptions = {}, env: NodeJS.ProcessEnv = process.env): ResolvedDatabaseConfig {
  // The URL's parameters and the explicit ones merge by name (explicit win).
  const merged: DatabaseOptions = mergeUrlOptions({ ...options, params: undefined }, parseDatabaseUrl)
  const dialect = merged.dialect ?? 'sqlite'
  if (!(dialect in DEFAULT_PORT)) throw new ERR_PYWATT_DB_CONFIG(`unknown dialect '${String(dialect)}'`)
  let filename = ''
  if (dialect === 'sqlite') {
    const file = merged.filename ?? DEFAULT_SQLITE_FILE
    filename = file === ':memory:' || file === '' ? ':memory:' : isAbsolute(file) ? file : resolve(dataDirectory(merged.dataDir, env), file)
  }
  const pool = merged.pool ?? {}
  const params = resolveConnectionParams(dialect, { ...merged.params, ...options.params }, merged.tls)
  const max = positive(pool.max, 'max', DEFAULT_POOL.max)
  const min = positive(pool.min, 'min', DEFAULT_POOL.min, 0)
  if (min > max) throw new ERR_PYWATT_DB_CONFIG(`pool.min (${min}) is above pool.max (${max})`)
  if (dialect === 'mysql' && min > 0) throw new ERR_PYWATT_DB_CONFIG('pool.min is not supported on MySQL/MariaDB: mysql2 keeps no minimum of connections')
  const out: ResolvedDatabaseConfig = {
    dialect,
    host: merged.host ?? '127.0.0.1',
    port: merged.port ?? DEFAULT_PORT[dialect],
    user: merged.user ?? DEFAULT_USER[dialect],
    password: merged.password ?? '',
    database: merged.database ?? '',
    filename,
    pool: {
      max,
      min,
      idleTimeout: positive(pool.idleTimeout, 'idleTimeout', DEFAULT_POOL.idleTimeout),
      maxLifetime: positive(pool.maxLifetime, 'maxLifetime', DEFAULT_POOL.maxLifetime, 0),
      acquireTimeout: positive(pool.acquireTimeout, 'acquireTimeout', DEFAULT_POOL.acquireTimeout)
    }
  }
  if (params.tls !== undefined) out.tls = params.tls
  if (params.applicationName !== undefined) out.applicationName = params.applicationName
  return out
}
