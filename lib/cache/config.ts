import { ERR_PYWATT_CACHE_CONFIG } from '../errors.js'
import { registerSecret } from '../logging/registry.js'
import { mergeUrlOptions, parseServiceUrl } from '../data/url.js'
import type { CacheKind, CacheOptions, RedisNode } from './types.js'

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

const fail = (message: string): Error => new ERR_PYWATT_CACHE_CONFIG(message)

// `redis-cluster://[userinfo@]h1:p1,h2:p2[/…]`: the WHATWG parser takes one host, so the
// authority is split here and each host goes through it on its own.
const MULTI_HOST = /^(rediss?)-(cluster|sentinel):\/\/([^/?#]*)([^]*)$/i

function parseMultiHostUrl (m: RegExpExecArray): CacheUrlOptions {
  const scheme = m[1].toLowerCase()
  const mode = m[2].toLowerCase()
  const authority = m[3]
  const at = authority.lastIndexOf('@')
  const userinfo = at === -1 ? '' : authority.slice(0, at + 1)
  // The password as written, before anything below can fail on it.
  const colon = userinfo.indexOf(':')
  if (colon !== -1 && userinfo.length - 1 > colon + 1) registerSecret(userinfo.slice(colon + 1, -1))
  const hosts = authority.slice(at + 1).split(',')
  if (hosts.some((h) => h === '')) throw fail(`the ${mode} URL needs host[:port] entries separated by commas`)
  const defaultPort = mode === 'sentinel' ? 26379 : 6379
  const nodes: Array<Required<RedisNode>> = []
  let first
  for (const [i, h] of hosts.entries()) {
    const u = parseServiceUrl(`${scheme}://${i === 0 ? userinfo : ''}${h}${i === 0 ? m[4] : ''}`, SCHEMES, fail, 'cache')
    if (u.host === '') throw fail(`a ${mode} URL host is empty`)
    nodes.push({ host: u.host, port: u.port ?? defaultPort })
    first ??= u
  }
  const u = first!
  const out: CacheUrlOptions = { kind: 'redis' }
  if (scheme === 'rediss') out.tls = true
  if (u.user !== undefined) out.user = u.user
  if (u.password !== undefined) out.password = u.password
  if (mode === 'cluster') {
    if (u.path !== '' && u.path !== '0') throw fail('a Redis Cluster has database 0 only: the cluster URL takes no database')
    out.cluster = nodes
    return out
  }
  const [name = '', db, ...extra] = u.path.split('/')
  if (name === '') throw fail('the sentinel URL needs the master name as its path (redis-sentinel://host:26379/mymaster)')
  if (extra.length > 0 || (db !== undefined && !/^\d+$/.test(db))) throw fail('the Redis database in the sentinel URL must be a number after the master name')
  if (db !== undefined) out.db = Number(db)
  out.sentinel = { sentinels: nodes, name }
  return out
}

/** Parse a cache URL; the password is registered for scrubbing. */
export function parseCacheUrl (url: string): CacheUrlOptions {
  const multi = MULTI_HOST.exec(url)
  if (multi !== null) return parseMultiHostUrl(multi)
  const u = parseServiceUrl(url, SCHEMES, fail, 'cache')
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
  const o = mergeUrlOptions(options, parseCacheUrl)
  if (o.sentinel?.password !== undefined && o.sentinel.password !== '') registerSecret(o.sentinel.password)
  if (o.cluster !== undefined && o.sentinel !== undefined) throw fail('a cache is either a Redis Cluster or behind Sentinel, not both')
  if ((o.cluster !== undefined || o.sentinel !== undefined) && o.kind !== undefined && o.kind !== 'redis') {
    throw fail(`cluster and sentinel are Redis settings, not ${o.kind} ones`)
  }
  if (o.cluster !== undefined && o.cluster.length === 0) throw fail('cluster needs at least one node')
  if (o.sentinel !== undefined && o.sentinel.sentinels.length === 0) throw fail('sentinel needs at least one sentinel')
  if (o.cluster !== undefined && o.db !== undefined && o.db !== 0) throw fail('a Redis Cluster has database 0 only')
  return o
}
