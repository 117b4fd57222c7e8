import { isAbsolute, resolve } from 'node:path'
import { ERR_PYWATT_DB_CONFIG } from '../errors.js'
import { registerSecret } from '../logging/registry.js'
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

function decode (part: string, what: string): string {
  try {
    return decodeURIComponent(part)
  } catch {
    throw new ERR_PYWATT_DB_CONFIG(`the ${what} in the URL is not valid percent-encoding`)
  }
}

/** Parse a database URL with the WHATWG parser. The password is registered for scrubbing. */
export function parseDatabaseUrl (url: string): DatabaseOptions {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    // The parser's error carries the input: never let it out.
    throw new ERR_PYWATT_DB_CONFIG('the database URL cannot be parsed')
  }
  const dialect = SCHEMES[u.protocol]
  if (dialect === undefined) throw new ERR_PYWATT_DB_CONFIG(`unsupported URL scheme '${u.protocol}'`)
  if (u.password !== '') {
    registerSecret(u.password)
  }
  if (dialect === 'sqlite') {
    return { dialect, filename: decode(u.host + u.pathname, 'path') }
  }
  const password = decode(u.password, 'password')
  if (password !== '') registerSecret(password)
  const out: DatabaseOptions = { dialect, host: decode(u.hostname.replace(/^\[|\]$/g, ''), 'host') }
  if (u.port !== '') out.port = Number(u.port)
  if (u.username !== '') out.user = decode(u.username, 'user name')
  if (password !== '') out.password = password
  const database = decode(u.pathname.slice(1), 'database name')
  if (database !== '') out.database = database
  return out
}

function positive (value: number | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isInteger(value) || value < 1) throw new ERR_PYWATT_DB_CONFIG(`pool.${name} must be a positive integer`)
  return value
}

/** Apply the defaults to URL and explicit settings (explicit fields win). */
export function resolveDatabaseConfig (options: DatabaseOptions = {}, env: NodeJS.ProcessEnv = process.env): ResolvedDatabaseConfig {
  const fromUrl = options.url === undefined ? {} : parseDatabaseUrl(options.url)
  const merged: DatabaseOptions = { ...fromUrl }
  for (const [k, v] of Object.entries(options)) {
    if (v !== undefined && k !== 'url') (merged as Record<string, unknown>)[k] = v
  }
  if (options.password !== undefined && options.password !== '') registerSecret(options.password)
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
