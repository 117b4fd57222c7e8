import { ERR_PYWATT_CACHE_NOT_INTEGER, ERR_PYWATT_CACHE_OPERATION, ERR_PYWATT_CACHE_UNSUPPORTED } from '../errors.js'
import type { OperationResult } from '../services/service-client.js'
import type { ServicePool } from '../services/service-pool.js'
import { decode, encode } from './codec.js'
import type { CommandCounts } from './command-counts.js'
import type { CacheBackend, CacheReader, CacheValue } from './types.js'

/** A value on the wire: our codec's bytes (lib/cache/codec.ts), base64. */
export function valueToWire (value: CacheValue): string {
  const bytes = encode(value)
  return (typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes).toString('base64')
}

/** A value received: base64 text or an array of bytes; `null` is a miss. */
export function valueFromWire (wire: unknown): CacheValue | undefined {
  if (wire === null || wire === undefined) return undefined
  if (typeof wire === 'string') return decode(Buffer.from(wire, 'base64'))
  if (Array.isArray(wire)) return decode(Buffer.from(wire as number[]))
  throw new ERR_PYWATT_CACHE_OPERATION('the orchestrator answered a value that is neither base64 text nor bytes')
}

/** The protocol counts TTLs in whole seconds: a shorter one is rounded up, `0` stays "no expiry". */
const seconds = (ttl: number): number => Math.ceil(ttl / 1000)

/** A code the orchestrator names first in its error (`FST_PYWATT_CACHE_NOT_INTEGER: …`, as the dev orchestrator does). */
const NOT_INTEGER = 'FST_PYWATT_CACHE_NOT_INTEGER'

/**
 * The orchestrator's Cache service as a backend (docs/protocol.md §13): each
 * call is one `service_operation` on a pooled connection. It cannot tell a
 * key's TTL (no such operation).
 */
export class ProxiedBackend implements CacheBackend {
  readonly kind = 'orchestrator' as const
  readonly #pool: ServicePool
  readonly #locks = new Map<string, { token: string, timer: NodeJS.Timeout }>()

  constructor (pool: ServicePool) {
    this.#pool = pool
  }

  async #run (operation: string, params: unknown, key?: string): Promise<unknown> {
    const m: OperationResult = await this.#pool.run(operation, params)
    if (m.success) return m.result ?? null
    const message = m.error ?? 'the orchestrator reported a failure without a message'
    if (key !== undefined && message.startsWith(NOT_INTEGER)) throw new ERR_PYWATT_CACHE_NOT_INTEGER(key)
    throw new ERR_PYWATT_CACHE_OPERATION(message)
  }

  reader (prefix: string, counts: CommandCounts): CacheReader {
    return async (key) => {
      const value = valueFromWire(await this.#run('get', { key: prefix + key }))
      if (value === undefined) counts.misses++
      else counts.hits++
      return value
    }
  }

  async set (key: string, value: CacheValue, ttl: number, counts?: CommandCounts): Promise<void> {
    await this.#run('set', { key, value: valueToWire(value), ttl_seconds: seconds(ttl) })
    if (counts !== undefined) counts.sets++
  }

  async setNx (key: string, value: CacheValue, ttl: number): Promise<boolean> {
    return await this.#run('set_nx', { key, value: valueToWire(value), ttl_seconds: seconds(ttl) }) === true
  }

  // `ttl_seconds` goes beyond the operation's documented params: an orchestrator that ignores it keeps the key's TTL.
  async getSet (key: string, value: CacheValue, ttl: number): Promise<CacheValue | undefined> {
    return valueFromWire(await this.#run('get_set', { key, value: valueToWire(value), ttl_seconds: seconds(ttl) }))
  }

  async delete (key: string): Promise<boolean> {
    return await this.#run('delete', { key }) === true
  }

  async has (key: string): Promise<boolean> {
    return await this.#run('exists', { key }) === true
  }

  async ttl (): Promise<number | undefined> {
    throw new ERR_PYWATT_CACHE_UNSUPPORTED('orchestrator', 'ttl')
  }

  async incr (key: string, by: number): Promise<number> {
    return Number(await this.#run('increment', { key, delta: by }, key))
  }

  async getMany (keys: string[]): Promise<Array<CacheValue | undefined>> {
    if (keys.length === 0) return []
    const values = await this.#run('get_many', { keys })
    if (!Array.isArray(values) || values.length !== keys.length) throw new ERR_PYWATT_CACHE_OPERATION('get_many answered a different number of values than keys asked')
    return values.map(valueFromWire)
  }

  async setMany (entries: Array<[string, CacheValue]>, ttl: number): Promise<void> {
    if (entries.length === 0) return
    await this.#run('set_many', { items: entries.map(([key, value]) => ({ key, value: valueToWire(value) })), ttl_seconds: seconds(ttl) })
  }

  async deleteMany (keys: string[]): Promise<number> {
    if (keys.length === 0) return 0
    return Number(await this.#run('delete_many', { keys }))
  }

  async clear (prefix: string): Promise<number> {
    return Number(await this.#run('clear', { namespace: prefix }))
  }

  // The cache's token is offered as `lock_token`; an orchestrator that makes
  // its own instead gets it back on unlock through the map.
  async lock (key: string, token: string, ttl: number): Promise<boolean> {
    const theirs = await this.#run('lock', { key, ttl_seconds: seconds(ttl), lock_token: token })
    if (typeof theirs !== 'string') return false
    if (theirs !== token) this.#remember(key, token, theirs, ttl)
    return true
  }

  /** Keep the orchestrator's token of a lock for as long as the lock lasts. */
  #remember (key: string, token: string, theirs: string, ttl: number): void {
    const id = `${key}\u0000${token}`
    clearTimeout(this.#locks.get(id)?.timer)
    const timer = setTimeout(() => this.#locks.delete(id), seconds(ttl) * 1000)
    timer.unref()
    this.#locks.set(id, { token: theirs, timer })
  }

  /** The token the orchestrator knows the lock by. */
  #theirs (key: string, token: string): string {
    return this.#locks.get(`${key}\u0000${token}`)?.token ?? token
  }

  async unlock (key: string, token: string): Promise<boolean> {
    const theirs = this.#theirs(key, token)
    const id = `${key}\u0000${token}`
    clearTimeout(this.#locks.get(id)?.timer)
    this.#locks.delete(id)
    return await this.#run('unlock', { key, lock_token: theirs }) === true
  }

  // `extend_lock` is not among the operations the orchestrator protocol lists: the dev orchestrator answers it; another may refuse it.
  async extend (key: string, token: string, ttl: number): Promise<boolean> {
    const theirs = this.#theirs(key, token)
    const kept = await this.#run('extend_lock', { key, lock_token: theirs, ttl_seconds: seconds(ttl) }) === true
    if (kept && theirs !== token) this.#remember(key, token, theirs, ttl)
    return kept
  }

  evictions (): null { return null }

  async close (): Promise<void> {
    for (const { timer } of this.#locks.values()) clearTimeout(timer)
    this.#locks.clear()
    await this.#pool.close()
  }
}
