import type { FastifyBaseLogger } from 'fastify'
import { Cache } from '../cache/cache.js'
import { ProxiedBackend } from '../cache/proxied.js'
import { DEFAULT_POOL } from '../db/config.js'
import { Database } from '../db/database.js'
import { poolTimeout, ProxiedDriver } from '../db/proxied.js'
import type { Dialect } from '../db/types.js'
import { ERR_PYWATT_CACHE_CONFIG, ERR_PYWATT_DB_CONFIG, ERR_PYWATT_SERVICE } from '../errors.js'
import type { Observation } from '../observe.js'
import { serviceClient } from '../services/service-client.js'
import { ServicePool } from '../services/service-pool.js'
import type { StdioChannel } from '../transport/stdio-channel.js'

/** Connections opened to an orchestrator service unless `pool.max` says otherwise. */
export const PROXIED_POOL_SIZE = 4
/** Milliseconds one operation may take unless `commandTimeout` says otherwise (the JWT `remoteTimeout` default). */
export const PROXIED_TIMEOUT = 5_000

/** The `db` settings that mean something with `via: 'orchestrator'`. */
export interface ProxiedDbSettings {
  dialect?: Dialect
  commandTimeout?: number
  pool?: { max?: number, acquireTimeout?: number }
}

/** The `cache` settings that mean something with `via: 'orchestrator'`. */
export interface ProxiedCacheSettings {
  namespace?: string
  defaultTtl?: number
  commandTimeout?: number
  pool?: { max?: number }
}

const DB_KEYS = new Set(['via', 'dialect', 'commandTimeout', 'pool'])
const DB_POOL_KEYS = new Set(['max', 'acquireTimeout'])
const CACHE_KEYS = new Set(['via', 'namespace', 'defaultTtl', 'commandTimeout', 'pool'])

/** Refuse settings of a connection of the module's own next to `via: 'orchestrator'`. */
function refuseOthers (option: object, allowed: Set<string>, what: string, fail: (message: string) => Error): void {
  const others = Object.entries(option).filter(([k, v]) => v !== undefined && !allowed.has(k)).map(([k]) => `${what}.${k}`)
  if (others.length > 0) throw fail(`${others.join(', ')} cannot be used with ${what}.via 'orchestrator': the orchestrator holds the connection settings`)
}

function channelOf (channel: StdioChannel | null, what: string, fail: (message: string) => Error): StdioChannel {
  if (channel === null) throw fail(`${what}.via 'orchestrator' needs an orchestrator: the module runs standalone`)
  return channel
}

/** A setting that only means something with `via: 'orchestrator'` is refused without it. */
export function refuseWithoutVia (value: unknown, name: string, fail: (message: string) => Error): void {
  if (value !== undefined) throw fail(`${name} applies to via 'orchestrator' only`)
}

/** Check the `db` option with `via: 'orchestrator'` (at registration, before any I/O). */
export function checkProxiedDb (option: object & ProxiedDbSettings): void {
  const fail = (message: string): Error => new ERR_PYWATT_DB_CONFIG(message)
  refuseOthers(option, DB_KEYS, 'db', fail)
  refuseOthers(option.pool ?? {}, DB_POOL_KEYS, 'db.pool', fail)
}

/** Check the `cache` option with `via: 'orchestrator'`. */
export function checkProxiedCache (option: object): void {
  refuseOthers(option, CACHE_KEYS, 'cache', (message) => new ERR_PYWATT_CACHE_CONFIG(message))
}

/** The connections of the `Database` service; they open on first use, or all at once with `start()`. */
export function databasePool (channel: StdioChannel, option: ProxiedDbSettings, log: FastifyBaseLogger): ServicePool {
  return new ServicePool(serviceClient(channel, log), {
    serviceType: 'Database',
    config: null,
    size: option.pool?.max ?? PROXIED_POOL_SIZE,
    timeout: option.commandTimeout ?? PROXIED_TIMEOUT,
    acquireTimeout: option.pool?.acquireTimeout ?? DEFAULT_POOL.acquireTimeout,
    acquireError: poolTimeout,
    log
  })
}

/** The connections of the `Cache` service; waits for a free one are bounded by `commandTimeout` too. */
export function cachePool (channel: StdioChannel, option: ProxiedCacheSettings, log: FastifyBaseLogger): ServicePool {
  const timeout = option.commandTimeout ?? PROXIED_TIMEOUT
  return new ServicePool(serviceClient(channel, log), {
    serviceType: 'Cache',
    config: null,
    size: option.pool?.max ?? PROXIED_POOL_SIZE,
    timeout,
    acquireTimeout: timeout,
    acquireError: (ms) => new ERR_PYWATT_SERVICE('Cache', `no connection became free within ${ms} ms`),
    log
  })
}

/** `fastify.pywatt.db` over the orchestrator's Database service; its connections are opened now (a refusal fails the start). */
export async function openProxiedDatabase (channel: StdioChannel | null, option: ProxiedDbSettings, log: FastifyBaseLogger, observation: Observation): Promise<Database> {
  const pool = databasePool(channelOf(channel, 'db', (message) => new ERR_PYWATT_DB_CONFIG(message)), option, log)
  await pool.start()
  return new Database(new ProxiedDriver(pool, option.dialect ?? 'sqlite'), log, observation)
}

/** `fastify.pywatt.cache` over the orchestrator's Cache service; its connections are opened now. */
export async function openProxiedCache (channel: StdioChannel | null, option: ProxiedCacheSettings, log: FastifyBaseLogger): Promise<Cache> {
  const pool = cachePool(channelOf(channel, 'cache', (message) => new ERR_PYWATT_CACHE_CONFIG(message)), option, log)
  await pool.start()
  return new Cache(new ProxiedBackend(pool), option)
}
