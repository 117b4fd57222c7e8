import { isAbsolute, resolve } from 'node:path'
import { ERR_PYWATT_DB_CONFIG } from '../errors.js'
import { mergeUrlOptions, parseServiceUrl } from '../data/url.js'
import type { DatabaseOptions, Dialect, PoolOptions, ResolvedDatabaseConfig } from './types.js'

/** Pool defaults (the Rust and Python SDKs' values). */
export const DEFAULT_POOL: Required<PoolOptions> = Object.freeze({
  max: 10,
  idleTimeout: 300_000,
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

/** Parse a database URL; the password is registered for scrubbing. */
export function parseDatabaseUrl (url: string): DatabaseOptions {
  const u = parseServiceUrl(url, SCHEMES, (message) => new ERR_PYWATT_DB_CONFIG(message), 'database')
  if (u.kind === 'sqlite') return { dialect: u.kind, filename: u.location }
  const out: DatabaseOptions = { dialect: u.kind, host: u.host }
  if (u.port !== undefined) out.port = u.port
  if (u.user !== undefined) out.user = u.user
  if (u.password !== undefined) out.password = u.password
  if (u.path !== '') out.database = u.path
  return out
}

function positive (value: number | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isInteger(value) || value < 1) throw new ERR_PYWATT_DB_CONFIG(`pool.${name} must be a positive integer`)
  return value
}

/** Apply the defaults to URL and explicit settings (explicit fields win). */
export function resolveDatabaseConfig (options: DatabaseOptions = {}, env: NodeJS.ProcessEnv = process.env): ResolvedDatabaseConfig {
  const merged: DatabaseOptions = mergeUrlOptions(options, parseDatabaseUrl)
  const dialect = merged.dialect ?? 'sqlite'
  if (!(dialect in DEFAULT_PORT)) throw new ERR_PYWATT_DB_CONFIG(`unknown dialect '${String(dialect)}'`)
  let filename = ''
  if (dialect === 'sqlite') {
    const file = merged.filename ?? DEFAULT_SQLITE_FILE
    filename = file === ':memory:' || file === '' ? ':memory:' : isAbsolute(file) ? file : resolve(dataDirectory(merged.dataDir, env), file)
  }
  const pool = merged.pool ?? {}
  return {
    dialect,
    host: merged.host ?? '127.0.0.1',
    port: merged.port ?? DEFAULT_PORT[dialect],
    user: merged.user ?? DEFAULT_USER[dialect],
    password: merged.password ?? '',
    database: merged.database ?? '',
    filename,
    pool: {
      max: positive(pool.max, 'max', DEFAULT_POOL.max),
      idleTimeout: positive(pool.idleTimeout, 'idleTimeout', DEFAULT_POOL.idleTimeout),
      acquireTimeout: positive(pool.acquireTimeout, 'acquireTimeout', DEFAULT_POOL.acquireTimeout)
    }
  }
}
