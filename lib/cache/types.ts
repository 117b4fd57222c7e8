import type { CommandCounts } from './command-counts.js'

/** What the cache stores: strings, Buffers, and JSON values, each returned as stored. */
export type CacheValue = string | Buffer | number | boolean | null | CacheValue[] | { [key: string]: CacheValue }

/**
 * `T` where it is a value the cache reads back as written, `never` in the
 * places where it is not. `CacheValue` cannot serve as a parameter type: an
 * interface has no index signature, so `Item` would not be assignable to
 * `{ [key: string]: CacheValue }` even when every member is JSON. This walks
 * the members instead, so interfaces pass (optional members included) and
 * functions, methods, bigints, symbols, `undefined`, Dates, Maps and typed
 * arrays other than Buffer do not.
 * A `CacheValue` passes as it is (walking its recursion would never end).
 */
export type Cacheable<T> =
  T extends CacheValue ? T
    : T extends bigint | symbol | undefined | ((...args: never[]) => unknown) ? never
      : T extends object ? { [K in keyof T]: Cacheable<T[K]> }
        : never

/** `setMany`'s entries (pairs, or an object of values) with each value checked as `Cacheable`. */
export type CacheableEntries<E> = E extends Iterable<readonly [string, infer V]>
  ? Iterable<readonly [string, Cacheable<V>]>
  : { [K in keyof E]: Cacheable<E[K]> }

/** The cache backends. */
export type CacheKind = 'memory' | 'redis' | 'memcached' | 'orchestrator'

/** Per-write settings. */
export interface SetOptions {
  /** Milliseconds to keep the entry; `0` = no expiry; absent = the cache's `defaultTtl`. */
  ttl?: number
}

/** `withLock` settings. */
export interface LockOptions {
  /** Milliseconds to wait for a held lock before `FST_PYWATT_CACHE_LOCK_TIMEOUT` (default 0: one try). */
  wait?: number
  /** Base delay between tries in ms, jittered (default 50). */
  retry?: number
  /** Re-arm the TTL every `ttl / 2` ms while `fn` runs (default false). */
  extend?: boolean
}

/** Counters since the cache was created. */
export interface CacheStats {
  hits: number
  misses: number
  sets: number
  deletes: number
  /** Entries pushed out by the size caps: memory only, `null` where the backend does not tell. */
  evictions: number | null
}

/** Cache settings: a URL, or discrete fields. */
export interface CacheOptions {
  /**
   * `memory:`, `redis://[user:pass@]host[:port][/db]`, `rediss://…`, `memcached://[user:pass@]host[:port]`,
   * `redis-cluster://[user:pass@]host:port[,host:port…]` (`rediss-cluster://` for TLS),
   * `redis-sentinel://[user:pass@]host:port[,host:port…]/masterName[/db]` (`rediss-sentinel://`).
   */
  url?: string
  kind?: CacheKind
  host?: string
  port?: number
  user?: string
  password?: string
  /** Redis database number (not with `cluster`: a cluster has database 0 only). */
  db?: number
  /**
   * Redis Cluster: a few of its nodes (the others are discovered). `user`,
   * `password` and TLS apply to every node. Multi-key calls go per hash slot.
   */
  cluster?: RedisNode[]
  /** Redis Sentinel: the sentinels and the monitored master's name; `user`, `password`, `db` are the master's. */
  sentinel?: SentinelOptions
  /** Prefix of every key (`namespace:key`). */
  namespace?: string
  /** TTL of writes without one, in ms (default 0 = no expiry). */
  defaultTtl?: number
  /** Memory: most entries (default 10 000). */
  maxEntries?: number
  /** Memory: most bytes of keys and values (default 64 MiB). */
  maxBytes?: number
  /** Redis and Memcached: milliseconds before a command fails (default 5 000). */
  commandTimeout?: number
}

/** A Redis Cluster node or a sentinel (default port 6379, 26379 for a sentinel). */
export interface RedisNode {
  host: string
  port?: number
}

/** The sentinels of a Redis master. */
export interface SentinelOptions {
  sentinels: RedisNode[]
  /** The master's name in the sentinels' configuration (`sentinel monitor <name> …`). */
  name: string
  /** The sentinels' own credentials, when they ask for them (`requirepass` of the sentinels). */
  user?: string
  password?: string
}

/** @internal A backend's `get` for one cache: the key without the cache's namespace, the outcome counted. */
export type CacheReader = (key: string) => Promise<CacheValue | undefined>

/** @internal One backend; keys arrive already namespaced, TTLs resolved. `reader` and `set` count their outcome in `counts`. */
export interface CacheBackend {
  readonly kind: CacheKind
  /**
   * The cache's `get`, built once per cache and backend: a closure pays no
   * method dispatch or field load per call, which is measurable on memory.
   */
  reader: (prefix: string, counts: CommandCounts) => CacheReader
  set: (key: string, value: CacheValue, ttl: number, counts?: CommandCounts) => Promise<void>
  /** In-process backends store at once: the cache then returns one resolved promise. */
  setNow?: (key: string, value: CacheValue, ttl: number) => void
  delete: (key: string) => Promise<boolean>
  has: (key: string) => Promise<boolean>
  ttl: (key: string) => Promise<number | undefined>
  incr: (key: string, by: number) => Promise<number>
  getMany: (keys: string[]) => Promise<Array<CacheValue | undefined>>
  setMany: (entries: Array<[string, CacheValue]>, ttl: number) => Promise<void>
  deleteMany: (keys: string[]) => Promise<number>
  clear: (prefix: string) => Promise<number>
  /** Store only if the key is absent (atomic): true when stored. */
  setNx: (key: string, value: CacheValue, ttl: number) => Promise<boolean>
  /** Store and return the previous value (atomic: no write lands between the read and the write). */
  getSet: (key: string, value: CacheValue, ttl: number) => Promise<CacheValue | undefined>
  lock: (key: string, token: string, ttl: number) => Promise<boolean>
  unlock: (key: string, token: string) => Promise<boolean>
  /** Re-arm the lock's TTL if `token` still holds it (atomic compare-and-extend). */
  extend: (key: string, token: string, ttl: number) => Promise<boolean>
  evictions: () => number | null
  close: () => Promise<void>
}

/** Connection settings of the Redis backend. */
export interface RedisSettings {
  host: string
  port: number
  user?: string
  password?: string
  db: number
  tls: boolean
  commandTimeout: number
  /** Redis Cluster: the startup nodes (then `host`, `port` and `db` are unused). */
  cluster?: Array<Required<RedisNode>>
  /** Redis Sentinel: `host` and `port` are unused, the sentinels name the master. */
  sentinel?: { sentinels: Array<Required<RedisNode>>, name: string, user?: string, password?: string }
}
