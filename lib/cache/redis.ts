import type { Cluster, Redis } from 'ioredis'
import { loadPackage } from '../runtime/lazy-package.js'
import { ERR_PYWATT_CACHE_CONFIG, ERR_PYWATT_CACHE_NOT_INTEGER, ERR_PYWATT_CACHE_OPERATION } from '../errors.js'
import { decode, encode } from './codec.js'
import { countLookup, type CommandCounts } from './command-counts.js'
import { groupBySlot } from './slot.js'
import type { CacheBackend, CacheReader, CacheValue, RedisSettings } from './types.js'

// Delete the key only if it still holds our token: atomic on the server.
const UNLOCK = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"
// Re-arm the key's TTL only if it still holds our token.
const EXTEND = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"

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
  /** Sentinel mode: the connector and its walk over the sentinels. */
  connector?: { sentinelIterator?: object }
}

/** What {@link RedisBackend.retarget} touches of an ioredis Cluster. */
interface ClusterInternals {
  startupNodes: unknown[]
  options: { redisOptions?: Record<string, unknown>, clusterRetryStrategy?: unknown }
  connectionPool: { redisOptions: Record<string, unknown> }
}

/** How a Redis backend reaches its data: one server, a cluster, or a master named by sentinels. */
export type RedisTopology = 'single' | 'cluster' | 'sentinel'

function topologyOf (s: RedisSettings): RedisTopology {
  return s.cluster !== undefined ? 'cluster' : s.sentinel !== undefined ? 'sentinel' : 'single'
}

/** What each connection to a data node gets (the single server, a cluster node, the sentinels' master). */
function nodeOptions (s: RedisSettings): Record<string, unknown> {
  return {
    username: s.user,
    password: s.password,
    tls: s.tls ? {} : undefined,
    commandTimeout: s.commandTimeout,
    connectTimeout: s.commandTimeout,
    maxRetriesPerRequest: 1
  }
}

function sentinelOptions (s: RedisSettings): Record<string, unknown> {
  const { sentinels, name, user, password } = s.sentinel!
  return {
    sentinels: sentinels.map((n) => ({ ...n })),
    name,
    sentinelUsername: user,
    sentinelPassword: password,
    sentinelCommandTimeout: s.commandTimeout,
    enableTLSForSentinelMode: s.tls,
    // Ask the sentinels at once when the master moves, not on the next failed command.
    failoverDetector: true
  }
}

/**
 * A Cluster holds its commands in an offline queue until it reaches a node,
 * with no timeout of its own (the nodes' `commandTimeout` starts only once a
 * command is sent to one): with no node reachable they would wait forever.
 * The timer is armed here, when the command is issued; the node then finds it
 * armed and keeps it, so the bound covers the wait and the round trip alike.
 */
function boundCommands (cluster: Cluster, ms: number): void {
  const send = cluster.sendCommand.bind(cluster)
  cluster.sendCommand = (command, stream, node) => {
    command.setTimeout(ms)
    return send(command, stream, node)
  }
}

/**
 * Redis through an ioredis client we create and close: a `Redis` for one
 * server or a sentinel-monitored master, a `Cluster` for Redis Cluster.
 */
export class RedisBackend implements CacheBackend {
  readonly kind = 'redis' as const
  readonly topology: RedisTopology
  /** `fastify.redis`: a `Redis`, or a `Cluster` for a cluster. */
  readonly client: Redis | Cluster
  // The commands: a Cluster has the same command methods as a Redis (one Commander); the
  // union's overloads do not merge in TypeScript, so the calls go through one of the two types.
  readonly #c: Redis

  constructor (s: RedisSettings) {
    const { Redis: Client, Cluster: ClusterClient } = loadPackage<typeof import('ioredis')>('ioredis', { neededBy: 'the redis cache', error: ERR_PYWATT_CACHE_CONFIG })
    this.topology = topologyOf(s)
    if (this.topology === 'cluster') {
      this.client = new ClusterClient(s.cluster!.map((n) => ({ ...n })), {
        redisOptions: nodeOptions(s),
        // TLS certificates name the hosts: keep them, not the addresses they resolve to.
        ...(s.tls ? { dnsLookup: (address: string, done: (err: null, address: string) => void) => { done(null, address) } } : {}),
        slotsRefreshTimeout: Math.min(s.commandTimeout, 2000),
        lazyConnect: false
      })
      boundCommands(this.client, s.commandTimeout)
    } else {
      this.client = new Client({
        ...nodeOptions(s),
        ...(this.topology === 'sentinel' ? sentinelOptions(s) : { host: s.host, port: s.port }),
        db: s.db,
        lazyConnect: false
      })
    }
    this.#c = this.client as Redis
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
    return (key) => this.#c.getBuffer(prefix + key).then(counted, rethrow)
  }

  set (key: string, value: CacheValue, ttl: number, counts?: CommandCounts): Promise<void> {
    let bytes: string | Buffer
    try {
      bytes = encode(value)
    } catch (err) {
      return Promise.reject(err)
    }
    const sent = ttl > 0 ? this.#c.set(key, bytes, 'PX', ttl) : this.#c.set(key, bytes)
    return sent.then(counts === undefined ? ignore : () => { counts.sets++ }, rethrow)
  }

  async delete (key: string): Promise<boolean> {
    return await this.#run(() => this.#c.del(key)) > 0
  }

  async has (key: string): Promise<boolean> {
    return await this.#run(() => this.#c.exists(key)) > 0
  }

  async ttl (key: string): Promise<number | undefined> {
    const left = await this.#run(() => this.#c.pttl(key))
    if (left === -2) return undefined
    return left === -1 ? 0 : left
  }

  incr (key: string, by: number): Promise<number> {
    return this.#run(() => this.#c.incrby(key, by), key)
  }

  // A cluster refuses a multi-key command whose keys span hash slots (CROSSSLOT): there the
  // keys go in one command per slot, the slots in parallel (each to the node that owns it).
  #perSlot<R> (keys: string[], run: (keys: string[], indexes: number[]) => Promise<R>): Promise<R[]> {
    if (this.topology !== 'cluster') return Promise.all([run(keys, keys.map((_, i) => i))])
    return Promise.all(groupBySlot(keys).map((indexes) => run(indexes.map((i) => keys[i]), indexes)))
  }

  async getMany (keys: string[]): Promise<Array<CacheValue | undefined>> {
    if (keys.length === 0) return []
    const out = new Array<CacheValue | undefined>(keys.length)
    await this.#perSlot(keys, async (group, indexes) => {
      const raw = await this.#run(() => this.#c.mgetBuffer(...group))
      for (const [j, b] of raw.entries()) out[indexes[j]] = b === null ? undefined : decode(b)
    })
    return out
  }

  /** One MULTI (per slot on a cluster: atomic within each slot). */
  async setMany (entries: Array<[string, CacheValue]>, ttl: number): Promise<void> {
    if (entries.length === 0) return
    const encoded = entries.map(([k, v]) => [k, encode(v)] as const)
    await this.#perSlot(encoded.map(([k]) => k), async (_, indexes) => {
      const multi = this.#c.multi()
      for (const i of indexes) {
        const [k, bytes] = encoded[i]
        if (ttl > 0) multi.set(k, bytes, 'PX', ttl)
        else multi.set(k, bytes)
      }
      await this.#run(() => multi.exec())
    })
  }

  async deleteMany (keys: string[]): Promise<number> {
    if (keys.length === 0) return 0
    const counts = await this.#perSlot(keys, (group) => this.#run(() => this.#c.del(...group)))
    return counts.reduce((a, b) => a + b, 0)
  }

  /** SCAN (never KEYS) in batches, UNLINK what matched; on a cluster, SCAN every master. */
  async clear (prefix: string): Promise<number> {
    const match = `${globEscape(prefix)}*`
    // A cluster lists its masters once connected: a round trip waits for that.
    if (this.topology === 'cluster') await this.#run(() => this.#c.ping())
    const nodes = this.topology === 'cluster' ? (this.client as Cluster).nodes('master') : [this.#c]
    const counts = await Promise.all(nodes.map(async (node) => {
      let cursor = '0'
      let n = 0
      do {
        const [next, keys] = await this.#run(() => node.scan(cursor, 'MATCH', match, 'COUNT', 500))
        cursor = next
        // Through the client, not the node: a cluster routes each slot's keys to its owner.
        if (keys.length > 0) n += (await this.#perSlot(keys, (group) => this.#run(() => this.#c.unlink(...group)))).reduce((a, b) => a + b, 0)
      } while (cursor !== '0')
      return n
    }))
    return counts.reduce((a, b) => a + b, 0)
  }

  async setNx (key: string, value: CacheValue, ttl: number): Promise<boolean> {
    const bytes = encode(value)
    const reply = await this.#run(() => ttl > 0 ? this.#c.set(key, bytes, 'PX', ttl, 'NX') : this.#c.set(key, bytes, 'NX'))
    return reply === 'OK'
  }

  /** `SET … GET`: one atomic command (Redis 6.2 and later). */
  async getSet (key: string, value: CacheValue, ttl: number): Promise<CacheValue | undefined> {
    const bytes = encode(value)
    const raw = await this.#run(() => ttl > 0 ? this.#c.setBuffer(key, bytes, 'PX', ttl, 'GET') : this.#c.setBuffer(key, bytes, 'GET'))
    return decodeReply(raw)
  }

  // The token is stored as it is (no tag byte): the scripts compare it byte for byte.
  async lock (key: string, token: string, ttl: number): Promise<boolean> {
    return await this.#run(() => this.#c.set(key, token, 'PX', ttl, 'NX')) === 'OK'
  }

  async unlock (key: string, token: string): Promise<boolean> {
    return await this.#run(() => this.#c.eval(UNLOCK, 1, key, token)) === 1
  }

  async extend (key: string, token: string, ttl: number): Promise<boolean> {
    return await this.#run(() => this.#c.eval(EXTEND, 1, key, token, ttl)) === 1
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
   * Only within one topology ({@link canRetarget}): a cluster gets new
   * startup nodes and node credentials, a sentinel client new sentinels.
   * Relies on ioredis 5/6 internals (mutable `options`, `condition`, `commandQueue`;
   * a Cluster's `startupNodes` and `connectionPool.redisOptions`; a SentinelConnector's iterator).
   */
  async retarget (s: RedisSettings, grace: number): Promise<boolean> {
    const deadline = Date.now() + grace
    const busy = (): boolean => this.#connections().some((c) => c.commandQueue.length > 0)
    while (busy() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 1))
    if (this.topology === 'cluster') return await this.#retargetCluster(s)
    const client = this.client as unknown as RedisInternals
    const options = client.options
    Object.assign(options, {
      username: s.user,
      password: s.password,
      db: s.db,
      tls: s.tls ? {} : undefined
    }, this.topology === 'sentinel' ? sentinelOptions(s) : { host: s.host, port: s.port })
    const iterator = client.connector?.sentinelIterator
    if (this.topology === 'sentinel' && iterator !== undefined) {
      // The connector walks a copy of the sentinels taken when it was built.
      client.connector!.sentinelIterator = new (iterator.constructor as new (sentinels: unknown) => object)(options.sentinels)
    }
    // After a reconnect ioredis SELECTs the database of the previous connection: make that the new one.
    if (client.condition != null) client.condition.select = s.db
    if (client.prevCondition != null) client.prevCondition.select = s.db
    // Reconnect at once, not after the retry strategy's first delay.
    const strategy = options.retryStrategy
    options.retryStrategy = () => {
      options.retryStrategy = strategy
      return 0
    }
    return await this.#reconnectWithin(s.commandTimeout)
  }

  /** Drop the connection and reconnect at once: true when the client is ready again within `ms`. */
  #reconnectWithin (ms: number): Promise<boolean> {
    const ready = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => { this.client.off('ready', onReady); resolve(false) }, ms)
      const onReady = (): void => { clearTimeout(timer); resolve(true) }
      this.client.once('ready', onReady)
    })
    this.client.disconnect(true)
    return ready
  }

  /** Whether {@link retarget} can take this client to `s`: the same topology. */
  canRetarget (s: RedisSettings): boolean {
    return topologyOf(s) === this.topology
  }

  #connections (): RedisInternals[] {
    const nodes = this.topology === 'cluster' ? (this.client as Cluster).nodes('all') : [this.client]
    return nodes as unknown as RedisInternals[]
  }

  async #retargetCluster (s: RedisSettings): Promise<boolean> {
    const cluster = this.client as unknown as ClusterInternals
    const options = nodeOptions(s)
    cluster.startupNodes = s.cluster!.map((n) => ({ ...n }))
    cluster.options.redisOptions = { ...cluster.options.redisOptions, ...options }
    Object.assign(cluster.connectionPool.redisOptions, options)
    const strategy = cluster.options.clusterRetryStrategy
    cluster.options.clusterRetryStrategy = () => {
      cluster.options.clusterRetryStrategy = strategy
      return 0
    }
    return await this.#reconnectWithin(s.commandTimeout)
  }

  async close (): Promise<void> {
    await this.client.quit().catch(() => {})
    // QUIT ends the data connection only: a sentinel client also holds one subscription per
    // sentinel (failover detection), which only disconnect() closes.
    this.client.disconnect()
  }
}
