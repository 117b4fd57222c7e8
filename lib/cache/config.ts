import { ERR_PYWATT_CACHE_CONFIG } from '../errors.js'
import { mergeUrlOptions, parseServiceUrl } from '../data/url.js'
import type { CacheKind, CacheOptions } from './types.js'

/** Defaults of the cache options. */
export const CACHE_DEFAULTS = Object.freeze({
  maxEntries: 10_000,
  maxBytes: 64 * 1024 * 1024,
  defaultTtl: 0,
  commandTimeout: 5_000
})

const SCHEMES: Record<string, CacheKind> = {
  'memory:': 'memory',
  'redis:': 'redis',
  'rediss:': 'redis',
  'memcached:': 'memcached'
}

/** Cache options with what only a URL can say: `rediss:` asks for TLS. */
export type CacheUrlOptions = CacheOptions & { tls?: boolean }

/** Parse a cache URL; the password is registered for scrubbing. */
export function parseCacheUrl (url: string): CacheUrlOptions {
  const u = parseServiceUrl(url, SCHEMES, (message) => new ERR_PYWATT_CACHE_CONFIG(message), 'cache')
  if (u.kind === 'memory') return { kind: u.kind }
  const out: CacheUrlOptions = { kind: u.kind, host: u.host }
  if (u.protocol === 'rediss:') out.tls = true
  if (u.port !== undefined) out.port = u.port
  if (u.user !== undefined) out.user = u.user
  if (u.password !== undefined) out.password = u.password
  if (u.kind === 'redis' && u.path !== '') {
    if (!/^\d+$/.test(u.path)) throw new ERR_PYWATT_CACHE_CONFIG('the Redis database in the URL must be a number')
    out.db = Number(u.path)
  }
  return out
}

/** URL and explicit settings together (explicit fields win). */
export function resolveCacheOptions (options: CacheOptions = {}): CacheUrlOptions {
  return mergeUrlOptions(options, parseCacheUrl)
}
