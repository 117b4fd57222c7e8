import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { ERR_PYWATT_CACHE_CONFIG, ERR_PYWATT_CACHE_LOCK_TIMEOUT, ERR_PYWATT_CACHE_OPERATION } from '../errors.js'
import { CACHE_DEFAULTS, resolveCacheOptions } from './config.js'
import { MemcachedBackend } from './memcached.js'
import { MemoryBackend } from './memory.js'
import { RedisBackend } from './redis.js'
import type { CacheBackend, Cacheable, CacheableEntries, CacheKind, CacheOptions, CacheReader, CacheStats, CacheValue, LockOptions, RedisSettings, SetOptions } from './types.js'

function checkTtl (ttl: number, what = 'ttl'): number {
  if (!Number.isFinite(ttl) || ttl < 0) throw new ERR_PYWATT_CACHE_CONFIG(`${what} must be a number of milliseconds ≥ 0`)
  return Math.ceil(ttl)
}

/** @internal The Redis connection settings of the options, or `undefined` for another kind. */
export function redisSettings (options: CacheOptions = {}): RedisSettings | undefined {
  return settingsOf(resolveCacheOptions(options))
}

function settingsOf (o: ReturnType<typeof resolveCacheOptions>): RedisSettings | undefined {
  if (kindOf(o) !== 'redis') return undefined
  const commandTimeout = o.commandTimeout ?? CACHE_DEFAULTS.commandTimeout
  const out: RedisSettings = { host: o.host ?? '127.0.0.1', port: o.port ?? 6379, user: o.user, password: o.password, db: o.db ?? 0, tls: o.tls ?? false, commandTimeout }
  if (o.cluster !== undefined) out.cluster = o.cluster.map((n) => ({ host: n.host, port: n.port ?? 6379 }))
  if (o.sentinel !== undefined) {
    const { sentinels, name, user, password } = o.sentinel
    out.sentinel = { sentinels: sentinels.map((n) => ({ host: n.host, port: n.port ?? 26379 })), name, user, password }
  }
  return out
}

/** `cluster` or `sentinel` alone say Redis. */
function kindOf (o: ReturnType<typeof resolveCacheOptions>): CacheKind {
  return o.kind ?? (o.cluster !== undefined || o.sentinel !== undefined ? 'redis' : 'memory')
}

/** Build the backend of the options (no I/O for memory; clients connect in the background). */
export function createBackend (options: CacheOptions = {}): CacheBackend {
  const o = resolveCacheOptions(options)
  const commandTimeout = o.commandTimeout ?? CACHE_DEFAULTS.commandTimeout
  const kind = kindOf(o)
  const redis = settingsOf(o)
  if (redis !== undefined) return new RedisBackend(redis)
  if (kind === 'memcached') {
    return new MemcachedBackend({ host: o.host ?? '127.0.0.1', port: o.port ?? 11211, user: o.user, password: o.password, commandTimeout })
  }
  if (kind !== 'memory') throw new ERR_PYWATT_CACHE_CONFIG(`unknown cache kind '${String(kind)}'`)
  return new MemoryBackend(o.maxEntries ?? CACHE_DEFAULTS.maxEntries, o.maxBytes ?? CACHE_DEFAULTS.maxBytes)
}

/**
 * `fastify.pywatt.cache`: one API over memory, Redis and Memcached. TTLs are
 * milliseconds, `0` means no expiry, an absent TTL means `defaultTtl`.
 */
export class Cache {
  #backend: CacheBackend
  readonly #retiring = new Set<{ backend: CacheBackend, timer: NodeJS.Timeout }>()
  readonly #prefix: string
  readonly #defaultTtl: number
  readonly #flights = new Map<string, Promise<unknown>>()
  readonly #stats = { hits: 0, misses: 0, sets: 0, deletes: 0 }
  #read: CacheReader

  constructor (backend: CacheBackend, options: { namespace?: string, defaultTtl?: number } = {}) {
    this.#backend = backend
    this.#prefix = options.namespace === undefined || options.namespace === '' ? '' : `${options.namespace}:`
    this.#read = backend.reader(this.#prefix, this.#stats)
    this.#defaultTtl = checkTtl(options.defaultTtl ?? CACHE_DEFAULTS.defaultTtl, 'defaultTtl')
  }

  /** `memory`, `redis` or `memcached`. */
  get kind (): CacheKind { return this.#backend.kind }

  /** @internal The current backend (`fastify.redis` is the Redis backend's client). */
  get backend (): CacheBackend { return this.#backend }

  #ttl (opts?: SetOptions): number {
    return opts?.ttl === undefined ? this.#defaultTtl : checkTtl(opts.ttl)
  }

  /** The stored value, or `undefined`. */
  get<T = CacheValue> (key: string): Promise<T | undefined> {
    return this.#read(key) as Promise<T | undefined>
  }

  /** Store a string, a Buffer or a JSON value (an interface of JSON members included). */
  set<T> (key: string, value: T & Cacheable<T>, opts?: SetOptions): Promise<void> {
    const backend = this.#backend
    const stored = value as CacheValue
    try {
      const ttl = this.#ttl(opts)
      if (backend.setNow !== undefined) {
        backend.setNow(this.#prefix + key, stored, ttl)
        this.#stats.sets++
        return Promise.resolve()
      }
      return backend.set(this.#prefix + key, stored, ttl, this.#stats)
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /** Store only if the key is absent (atomic on the server): true when this call stored it. */
  async setNx<T> (key: string, value: T & Cacheable<T>, opts?: SetOptions): Promise<boolean> {
    const stored = await this.#backend.setNx(this.#prefix + key, value as CacheValue, this.#ttl(opts))
    if (stored) this.#stats.sets++
    return stored
  }

  /**
   * Store and return the previous value (`undefined` if there was none), atomically:
   * no other write lands between the two. Counted as a set, and as a hit or a miss.
   */
  async getSet<T = CacheValue, V = T> (key: string, value: V & Cacheable<V>, opts?: SetOptions): Promise<T | undefined> {
    const old = await this.#backend.getSet(this.#prefix + key, value as CacheValue, this.#ttl(opts))
    this.#stats.sets++
    if (old === undefined) this.#stats.misses++
    else this.#stats.hits++
    return old as T | undefined
  }

  /** True if the key existed. */
  async delete (key: string): Promise<boolean> {
    const deleted = await this.#backend.delete(this.#prefix + key)
    if (deleted) this.#stats.deletes++
    return deleted
  }

  has (key: string): Promise<boolean> {
    return this.#backend.has(this.#prefix + key)
  }

  /** Milliseconds left; `0` = no expiry; `undefined` = no such key. */
  ttl (key: string): Promise<number | undefined> {
    return this.#backend.ttl(this.#prefix + key)
  }

  /** Add `by` (default 1) to an integer value (a missing key counts as 0); resolves with the new value. */
  async incr (key: string, by = 1): Promise<number> {
    if (!Number.isSafeInteger(by)) throw new ERR_PYWATT_CACHE_CONFIG('the increment must be a safe integer')
    return await this.#backend.incr(this.#prefix + key, by)
  }

  decr (key: string, by = 1): Promise<number> {
    return this.incr(key, -by)
  }

  /** Values in the order of `keys` (`undefined` for a miss). */
  async getMany<T = CacheValue> (keys: readonly string[]): Promise<Array<T | undefined>> {
    const values = await this.#backend.getMany(keys.map((k) => this.#prefix + k))
    for (const v of values) {
      if (v === undefined) this.#stats.misses++
      else this.#stats.hits++
    }
    return values as Array<T | undefined>
  }

  /** `set` for each of `entries`: `[key, value]` pairs (an array, a Map) or an object of values. */
  async setMany<E extends Iterable<readonly [string, unknown]> | Record<string, unknown>> (entries: E & CacheableEntries<E>, opts?: SetOptions): Promise<void> {
    const list = Symbol.iterator in entries ? [...(entries as Iterable<readonly [string, CacheValue]>)] : Object.entries(entries as Record<string, CacheValue>)
    await this.#backend.setMany(list.map(([k, v]) => [this.#prefix + k, v]), this.#ttl(opts))
    this.#stats.sets += list.length
  }

  /** How many of the keys existed. */
  async deleteMany (keys: readonly string[]): Promise<number> {
    const n = await this.#backend.deleteMany(keys.map((k) => this.#prefix + k))
    this.#stats.deletes += n
    return n
  }

  /**
   * Delete every key under `namespace:` (inside this cache's own namespace), or
   * every key of this cache without one. Redis uses SCAN, never KEYS.
   */
  async clear (namespace?: string): Promise<number> {
    const n = await this.#backend.clear(this.#prefix + (namespace === undefined || namespace === '' ? '' : `${namespace}:`))
    this.#stats.deletes += n
    return n
  }

  /** Take the lock `key` for `ttl` ms: a token, or `null` if someone holds it. */
  async lock (key: string, ttl: number): Promise<string | null> {
    if (checkTtl(ttl) === 0) throw new ERR_PYWATT_CACHE_CONFIG('a lock needs a ttl > 0')
    const token = randomUUID()
    return await this.#backend.lock(this.#lockKey(key), token, Math.ceil(ttl)) ? token : null
  }

  /** Release the lock if `token` still holds it (atomic compare-and-delete). */
  unlock (key: string, token: string): Promise<boolean> {
    return this.#backend.unlock(this.#lockKey(key), token)
  }

  #lockKey (key: string): string {
    return `${this.#prefix}lock:${key}`
  }

  /**
   * Run `fn` holding the lock `key` (taken for `ttl` ms), and release it after,
   * also when `fn` throws. A held lock is tried again every `retry` ms
   * (jittered, so waiters do not knock in step) until `wait` ms have passed,
   * then `FST_PYWATT_CACHE_LOCK_TIMEOUT`. With `extend`, the TTL is re-armed
   * every `ttl / 2` ms while `fn` runs; if that fails (the lock expired and
   * was taken, or the server is gone), `fn`'s signal aborts: it no longer
   * holds the lock alone.
   */
  async withLock<R> (key: string, ttl: number, fn: (signal: AbortSignal) => R | Promise<R>, opts: LockOptions = {}): Promise<R> {
    const wait = checkTtl(opts.wait ?? 0, 'wait')
    const retry = checkTtl(opts.retry ?? 50, 'retry')
    if (retry === 0) throw new ERR_PYWATT_CACHE_CONFIG('retry must be > 0 ms')
    const deadline = Date.now() + wait
    let token = await this.lock(key, ttl)
    while (token === null) {
      const left = deadline - Date.now()
      if (left <= 0) throw new ERR_PYWATT_CACHE_LOCK_TIMEOUT(key, wait)
      await sleep(Math.min(left, retry / 2 + Math.random() * retry))
      token = await this.lock(key, ttl)
    }
    const held = token
    // The lock lives where it was taken, even if the cache URL rotates meanwhile.
    const backend = this.#backend
    const controller = new AbortController()
    let timer: NodeJS.Timeout | undefined
    let done = false
    if (opts.extend === true) {
      const rearm = (): void => {
        timer = setTimeout(() => {
          backend.extend(this.#lockKey(key), held, Math.ceil(ttl)).then((kept) => {
            if (done) return
            if (kept) rearm()
            else controller.abort(new ERR_PYWATT_CACHE_OPERATION(`the lock '${key}' was lost: it expired before it could be extended`))
          }, (err: unknown) => {
            if (!done) controller.abort(new ERR_PYWATT_CACHE_OPERATION(`the lock '${key}' was lost: extending it failed`, { cause: err }))
          })
        }, Math.max(1, Math.floor(ttl / 2)))
      }
      rearm()
    }
    try {
      return await fn(controller.signal)
    } finally {
      done = true
      clearTimeout(timer)
      // A release that fails leaves the lock to expire after its ttl: the outcome of fn is what the caller needs.
      await backend.unlock(this.#lockKey(key), held).catch(() => {})
    }
  }

  /**
   * Cache-aside: the cached value, else `load()`'s, stored with `opts.ttl`.
   * `T` is not checked: the value must be a string, a Buffer or JSON.
   * Concurrent misses of one key in this process share one `load()`.
   */
  async wrap<T> (key: string, load: () => Promise<T>, opts?: SetOptions): Promise<T> {
    const cached = await this.get<T>(key)
    if (cached !== undefined) return cached
    const running = this.#flights.get(key) as Promise<T> | undefined
    if (running !== undefined) return running
    const flight = (async () => {
      try {
        const value = await load()
        await this.set(key, value as CacheValue, opts)
        return value
      } finally {
        this.#flights.delete(key)
      }
    })()
    this.#flights.set(key, flight)
    return flight
  }

  /** Resolves once the backend answers a command: a round trip to the server, for readiness and rotation. */
  async ping (): Promise<void> {
    await this.#backend.has('pywatt:ping')
  }

  stats (): CacheStats {
    return { ...this.#stats, evictions: this.#backend.evictions() }
  }

  /**
   * Swap the backend (rotation of the cache URL): new commands go to `backend`
   * at once; the old client is closed `grace` milliseconds later, when every
   * command sent to it has finished or timed out. Values are not copied.
   */
  replace (backend: CacheBackend, grace: number): void {
    const old = this.#backend
    this.#backend = backend
    this.#read = backend.reader(this.#prefix, this.#stats)
    const entry = {
      backend: old,
      timer: setTimeout(() => {
        this.#retiring.delete(entry)
        old.close().catch(/* c8 ignore next */ () => {})
      }, grace)
    }
    entry.timer.unref()
    this.#retiring.add(entry)
  }

  /** Close the client this cache created (and any still retiring after a swap). */
  async close (): Promise<void> {
    const retiring = [...this.#retiring]
    this.#retiring.clear()
    for (const r of retiring) clearTimeout(r.timer)
    await Promise.all([this.#backend.close(), ...retiring.map(async (r) => { await r.backend.close() })])
  }
}

/** Build a cache from a URL and/or options (default: memory). */
export function createCache (options: CacheOptions = {}): Cache {
  return new Cache(createBackend(options), options)
}
