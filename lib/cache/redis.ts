import type { Redis } from 'ioredis'
import { loadPackage } from '../runtime/lazy-package.js'
import { ERR_PYWATT_CACHE_CONFIG, ERR_PYWATT_CACHE_NOT_INTEGER, ERR_PYWATT_CACHE_OPERATION } from '../errors.js'
import { decode, encode } from './codec.js'
import { countLookup, type CommandCounts } from './command-counts.js'
import type { CacheBackend, CacheReader, CacheValue, RedisSettings } from './types.js'

// Delete the key only if it still holds our token: atomic on the server.
const UNLOCK = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"

/** Escape SCAN MATCH glob characters so a prefix matches only itself. */
export function globEscape (prefix: string): string {
  return prefix.replace(/[*?[\]\\]/g, '\\$&')
}

function failed (err: unknown, key?: string): Error {
  const message = (err as Error).message
  if (key !== undefined && /not an integer|out of range/.test(message)) return new ERR_PYWATT_CACHE_NOT_INTEGER(key)
  return new ERR_PYWATT_CACHE_OPERATION(message, { cause: err })
}

function decodeReply (raw: Buffer | null): CacheValue | undefined {
  if (raw === null) return undefined
  try {
    return decode(raw)
  } catch (err) {
    throw failed(err)
  }
}

function rethrow (err: unknown): never {
  throw failed(err)
}

function ignore (): void {}

/** What {@link RedisBackend.retarget} touches of an ioredis client. */
interface RedisInternals {
  options: Record<string, unknown> & { retryStrategy?: unknown }
  condition?: { select: number } | null
  prevCondition?: { select: number } | null
  commandQueue: { length: number }
}

/** Redis through an ioredis client we create and close. */
export class RedisBackend implements CacheBackend {
  readonly kind = 'redis' as const
  readonly client: Redis

  constructor (s: RedisSettings) {
    const { Redis: Client } = loadPackage<typeof import('ioredis')>('ioredis', { neededBy: 'the redis cache', error: ERR_PYWATT_CACHE_CONFIG })
    this.client = new Client({
      host: s.host,
      port: s.port,
      username: s.user,
      password: s.password,
      db: s.db,
      tls: s.tls ? {} : undefined,
      commandTimeout: s.commandTimeout,
      connectTimeout: s.commandTimeout,
      maxRetriesPerRequest: 1,
      lazyConnect: false
    })
    // Connection errors surface on the commands; an 'error' listener keeps them from crashing.
    this.client.on('error', () => {})
  }

  async #run<R> (work: () => Promise<R>, key?: string): Promise<R> {
    try {
      return await work()
    } catch (err) {
      throw failed(err, key)
    }
  }

  // get and set are the hot path: one `then` each on ioredis's promise, no async frames,
  // and the reader's callback is built once, not per command.
  reader (prefix: string, counts: CommandCounts): CacheReader {
    const counted = (raw: Buffer | null): CacheValue | undefined => countLookup(decodeReply(raw), counts)
    return (key) => this.client.getBuffer(prefix + key).then(counted, rethrow)
  }

  set (key: string, value: CacheValue, ttl: number, counts?: CommandCounts): Promise<void> {
    let bytes: string | Buffer
    try {
      bytes = encode(value)
    } catch (err) {
      return Promise.reject(err)
    }
    const sent = ttl > 0 ? this.client.set(key, bytes, 'PX', ttl) : this.client.set(key, bytes)
    return sent.then(counts === undefined ? ignore : () => { counts.sets++ }, rethrow)
  }

  async delete (key: string): Promise<boolean> {
    return await this.#run(() => this.client.del(key)) > 0
  }

  async has (key: string): Promise<boolean> {
    return await this.#run(() => this.client.exists(key)) > 0
  }

  async ttl (key: string): Promise<number | undefined> {
    const left = await this.#run(() => this.client.pttl(key))
    if (left === -2) return undefined
    return left === -1 ? 0 : left
  }

  incr (key: string, by: number): Promise<number> {
    return this.#run(() => this.client.incrby(key, by), key)
  }

  async getMany (keys: string[]): Promise<Array<CacheValue | undefined>> {
    if (keys.length === 0) return []
    const raw = await this.#run(() => this.client.mgetBuffer(...keys))
    return raw.map((b) => b === null ? undefined : decode(b))
  }

  async setMany (entries: Array<[string, CacheValue]>, ttl: number): Promise<void> {
    const multi = this.client.multi()
    for (const [k, v] of entries) {
      const bytes = encode(v)
      if (ttl > 0) multi.set(k, bytes, 'PX', ttl)
      else multi.set(k, bytes)
    }
    await this.#run(() => multi.exec())
  }

  async deleteMany (keys: string[]): Promise<number> {
    if (keys.length === 0) return 0
    return await this.#run(() => this.client.del(...keys))
  }

  /** SCAN (never KEYS) in batches, UNLINK what matched. */
  async clear (prefix: string): Promise<number> {
    let cursor = '0'
    let n = 0
    const match = `${globEscape(prefix)}*`
    do {
      const [next, keys] = await this.#run(() => this.client.scan(cursor, 'MATCH', match, 'COUNT', 500))
      cursor = next
      if (keys.length > 0) n += await this.#run(() => this.client.unlink(...keys))
    } while (cursor !== '0')
    return n
  }

  async lock (key: string, token: string, ttl: number): Promise<boolean> {
    return await this.#run(() => this.client.set(key, token, 'PX', ttl, 'NX')) === 'OK'
  }

  async unlock (key: string, token: string): Promise<boolean> {
    return await this.#run(() => this.client.eval(UNLOCK, 1, key, token)) === 1
  }

  evictions (): null { return null }

  /**
   * Point this same client at another server (rotation of the cache URL):
   * `fastify.redis`, listeners and subscriptions stay on one object. The
   * client is reconnected at an instant when no command awaits a reply (or
   * after `grace` ms), so no command is sent twice; commands issued meanwhile
   * wait in ioredis's offline queue and go to the new server.
   * Resolves `true` once the client is ready on the new server, `false` if it
   * is not within a command timeout (ioredis keeps reconnecting).
   * Relies on ioredis 5/6 internals (mutable `options`, `condition`, `commandQueue`).
   */
  async retarget (s: RedisSettings, grace: number): Promise<boolean> {
    const client = this.client as unknown as RedisInternals
    const deadline = Date.now() + grace
    while (client.commandQueue.length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 1))
    const options = client.options
    Object.assign(options, {
      host: s.host,
      port: s.port,
      username: s.user,
      password: s.password,
      db: s.db,
      tls: s.tls ? {} : undefined
    })
    // After a reconnect ioredis SELECTs the database of the previous connection: make that the new one.
    if (client.condition != null) client.condition.select = s.db
    if (client.prevCondition != null) client.prevCondition.select = s.db
    // Reconnect at once, not after the retry strategy's first delay.
    const strategy = options.retryStrategy
    options.retryStrategy = () => {
      options.retryStrategy = strategy
      return 0
    }
    const ready = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => { this.client.off('ready', onReady); resolve(false) }, s.commandTimeout)
      const onReady = (): void => { clearTimeout(timer); resolve(true) }
      this.client.once('ready', onReady)
    })
    this.client.disconnect(true)
    return await ready
  }

  async close (): Promise<void> {
    await this.client.quit().catch(() => this.client.disconnect())
  }
}
