import type { Socket } from 'node:net'
import type memjs from 'memjs'
import { loadPackage } from '../runtime/lazy-package.js'
import { ERR_PYWATT_CACHE_CONFIG, ERR_PYWATT_CACHE_NOT_INTEGER, ERR_PYWATT_CACHE_OPERATION, ERR_PYWATT_CACHE_UNSUPPORTED } from '../errors.js'
import { formatSocketAddress } from '../protocol/listen-address.js'
import { decode, encode } from './codec.js'
import { countLookup, type CommandCounts } from './command-counts.js'
import type { CacheBackend, CacheReader, CacheValue } from './types.js'

const THIRTY_DAYS_S = 30 * 24 * 3600

// Binary protocol opcodes and statuses, for the commands memjs sends without a CAS version.
const OP_GET = 0x00
const OP_SET = 0x01
const OP_DELETE = 0x04
const STATUS_OK = 0
const STATUS_NOT_FOUND = 1
const STATUS_EXISTS = 2

/** A stored value with its CAS version (what `gets` returns). */
interface Versioned { value: Buffer, cas: Buffer }

/** A command waiting for its answer, failed by the sweeper past its deadline. */
interface Pending { at: number, fail: (err: Error) => void }

/** memjs's error as ours; a non-numeric counter is named as such. */
function commandError (err: Error, key: string | undefined): Error {
  if (key !== undefined && /non-numeric/i.test(err.message)) return new ERR_PYWATT_CACHE_NOT_INTEGER(key)
  return new ERR_PYWATT_CACHE_OPERATION(err.message, { cause: err })
}

function statusError (command: string, status: number): Error {
  return new ERR_PYWATT_CACHE_OPERATION(`Memcached ${command} answered status ${status}`)
}

/** Memcached expiry: whole seconds, rounded up; past 30 days it must be a Unix time. */
export function memcachedExpiry (ttl: number, now = Date.now()): number {
  if (ttl <= 0) return 0
  const seconds = Math.ceil(ttl / 1000)
  return seconds > THIRTY_DAYS_S ? Math.ceil(now / 1000) + seconds : seconds
}

/**
 * A lock's expiry: Memcached's clock ticks in whole seconds, so an item of n
 * seconds can go up to one second early. A lock gets that second on top: it
 * may outlive its ttl a little, never end before it.
 */
export function lockExpiry (ttl: number, now = Date.now()): number {
  return memcachedExpiry(ttl + 1000, now)
}

/** Connection settings of the Memcached backend. */
export interface MemcachedSettings {
  host: string
  port: number
  user?: string
  password?: string
  commandTimeout: number
}

/**
 * Memcached through a memjs client we create and close. The compare-and-swap
 * operations (`getSet`, `unlock`, `extend`) send binary-protocol requests with
 * a CAS version through memjs's `perform`, as memjs has no call for them: a
 * write with a CAS version is refused if the item changed since it was read.
 */
export class MemcachedBackend implements CacheBackend {
  readonly kind = 'memcached' as const
  readonly client: memjs.Client
  readonly #request: typeof memjs.Utils.makeRequestBuffer
  readonly #timeout: number
  readonly #pending = new Set<Pending>()
  #sweeper: NodeJS.Timeout | null = null
  #corked: Socket | null = null

  constructor (s: MemcachedSettings) {
    this.#timeout = s.commandTimeout
    const driver = loadPackage<typeof memjs>('memjs', { neededBy: 'the memcached cache', error: ERR_PYWATT_CACHE_CONFIG })
    this.#request = driver.Utils.makeRequestBuffer
    this.client = driver.Client.create(formatSocketAddress(s.host, s.port), {
      username: s.user,
      password: s.password,
      timeout: s.commandTimeout / 1000,
      retries: 1,
      logger: { log: () => {} }
    })
  }

  /**
   * Run one command through memjs's callback form, settling a single promise
   * of ours (memjs's promise form would add its own on every command).
   *
   * memjs can leave the first command after a reconnect unanswered (its request
   * timer is not armed on that path): our own deadline settles every command.
   * One sweeping interval while commands are pending, not a timer per command.
   */
  #call<R> (start: (done: (err: Error | null, value: R) => void) => void, key?: string, delivered?: (value: R) => R): Promise<R> {
    this.#batch()
    return new Promise<R>((resolve, reject) => {
      const entry: Pending = { at: Date.now() + this.#timeout, fail: (err) => reject(commandError(err, key)) }
      this.#pending.add(entry)
      this.#sweeper ??= this.#startSweeper()
      start((err, value) => {
        // Already failed by the sweeper: a late answer changes nothing.
        if (!this.#pending.delete(entry)) return
        if (err == null) resolve(delivered === undefined ? value : delivered(value))
        else entry.fail(err)
      })
    })
  }

  /**
   * memjs writes each command with its own write(2), more than half of a
   * command's cost. Commands issued in the same tick (the continuations of the
   * answers of one read, typically) leave in one writev instead: the socket is
   * corked until the tick's end. memjs keeps its socket in `_socket` (it is
   * created on the first command); without one, commands go as memjs sends them.
   */
  #batch (): void {
    if (this.#corked !== null) return
    const socket = (this.client.servers[0] as { _socket?: Socket } | undefined)?._socket
    if (socket === undefined || socket.connecting || socket.destroyed) return
    socket.cork()
    this.#corked = socket
    process.nextTick(this.#uncork)
  }

  readonly #uncork = (): void => {
    this.#corked?.uncork()
    this.#corked = null
  }

  #startSweeper (): NodeJS.Timeout {
    const sweeper = setInterval(() => {
      const now = Date.now()
      for (const entry of this.#pending) {
        if (entry.at > now) continue
        this.#pending.delete(entry)
        entry.fail(new Error(`no answer from Memcached within ${this.#timeout} ms`))
      }
      if (this.#pending.size === 0) {
        clearInterval(sweeper)
        this.#sweeper = null
      }
    }, Math.max(10, Math.ceil(this.#timeout / 4)))
    sweeper.unref()
    return sweeper
  }

  reader (prefix: string, counts: CommandCounts): CacheReader {
    const counted = (value: CacheValue | undefined): CacheValue | undefined => countLookup(value, counts)
    return (key) => this.get(prefix + key, counted)
  }

  // get and set are the hot path: one promise each, the value decoded in the callback.
  get (key: string, counted?: (value: CacheValue | undefined) => CacheValue | undefined): Promise<CacheValue | undefined> {
    return this.#call<CacheValue | undefined>((done) => {
      this.client.get(key, (err, value) => {
        let decoded: CacheValue | undefined
        if (err == null && value !== null) {
          // Thrown here, an error would land inside memjs: it fails this command instead.
          try {
            decoded = decode(value)
          } catch (cause) {
            done(cause as Error, undefined)
            return
          }
        }
        done(err, decoded)
      })
    }, undefined, counted)
  }

  set (key: string, value: CacheValue, ttl: number, counts?: CommandCounts): Promise<void> {
    const bytes = encode(value)
    return this.#call<void>((done) => { this.client.set(key, bytes, { expires: memcachedExpiry(ttl) }, (err) => done(err)) },
      undefined, counts === undefined ? undefined : () => { counts.sets++ })
  }

  async delete (key: string): Promise<boolean> {
    return await this.#call<boolean | null>((done) => { this.client.delete(key, done) }) === true
  }

  async has (key: string): Promise<boolean> {
    return await this.get(key) !== undefined
  }

  async ttl (): Promise<number | undefined> {
    throw new ERR_PYWATT_CACHE_UNSUPPORTED('memcached', 'ttl')
  }

  /** Memcached counters are unsigned: `decr` stops at 0, a missing key starts at 0. */
  async incr (key: string, by: number): Promise<number> {
    const value = await this.#call<number | null | undefined>((done) => {
      const counted = (err: Error | null, _success: boolean | null, value?: number | null): void => done(err, value)
      if (by >= 0) this.client.increment(key, by, { initial: by }, counted)
      else this.client.decrement(key, -by, { initial: 0 }, counted)
    }, key)
    return Number(value)
  }

  getMany (keys: string[]): Promise<Array<CacheValue | undefined>> {
    return Promise.all(keys.map((k) => this.get(k)))
  }

  async setMany (entries: Array<[string, CacheValue]>, ttl: number): Promise<void> {
    await Promise.all(entries.map(([k, v]) => this.set(k, v, ttl)))
  }

  async deleteMany (keys: string[]): Promise<number> {
    const done = await Promise.all(keys.map((k) => this.delete(k)))
    return done.filter(Boolean).length
  }

  async clear (): Promise<number> {
    throw new ERR_PYWATT_CACHE_UNSUPPORTED('memcached', 'clear')
  }

  /** `add`: stored only if the key is absent, atomic on the server. */
  #add (key: string, bytes: string | Buffer, expires: number): Promise<boolean> {
    return this.#call<boolean>((done) => { this.client.add(key, bytes, { expires }, (err, stored) => done(err, stored === true)) })
  }

  /** One binary-protocol request, `cas` in its header; resolves with the server's response. */
  #perform (opcode: number, key: string, extras: Buffer | string, value: Buffer | string, cas?: Buffer): Promise<memjs.Response> {
    return this.#call<memjs.Response>((done) => {
      this.client.incrSeq()
      const seq = this.client.seq
      const request = this.#request(opcode, key, extras, value, seq)
      cas?.copy(request, 16)
      this.client.perform(key, request, seq, done)
    })
  }

  async #gets (key: string): Promise<Versioned | undefined> {
    const response = await this.#perform(OP_GET, key, '', '')
    const status = response.header.status
    if (status === STATUS_NOT_FOUND) return undefined
    if (status !== STATUS_OK) throw statusError('get', status)
    return { value: response.val, cas: response.header.cas }
  }

  /** Write only if the item is still at version `cas`: false if it changed or went away. */
  async #casSet (key: string, bytes: string | Buffer, expires: number, cas: Buffer): Promise<boolean> {
    const extras = Buffer.alloc(8)
    extras.writeUInt32BE(expires, 4)
    const status = (await this.#perform(OP_SET, key, extras, bytes, cas)).header.status
    if (status === STATUS_OK) return true
    if (status === STATUS_EXISTS || status === STATUS_NOT_FOUND) return false
    throw statusError('set', status)
  }

  setNx (key: string, value: CacheValue, ttl: number): Promise<boolean> {
    return this.#add(key, encode(value), memcachedExpiry(ttl))
  }

  /**
   * Read with the CAS version, then write at that version (`add` if there was
   * no value), again from the read if another client wrote in between: the
   * value returned is the one this write replaced, as with an atomic command.
   */
  async getSet (key: string, value: CacheValue, ttl: number): Promise<CacheValue | undefined> {
    const bytes = encode(value)
    const expires = memcachedExpiry(ttl)
    for (;;) {
      const current = await this.#gets(key)
      if (current === undefined) {
        if (await this.#add(key, bytes, expires)) return undefined
      } else if (await this.#casSet(key, bytes, expires, current.cas)) {
        try {
          return decode(current.value)
        } catch (err) {
          throw commandError(err as Error, undefined)
        }
      }
    }
  }

  // The token is stored as it is (no tag byte) and compared byte for byte.
  lock (key: string, token: string, ttl: number): Promise<boolean> {
    return this.#add(key, token, lockExpiry(ttl))
  }

  /** Compare, then delete at the version compared: a lock taken over meanwhile is left alone. */
  async unlock (key: string, token: string): Promise<boolean> {
    const current = await this.#gets(key)
    if (current === undefined || current.value.toString() !== token) return false
    const status = (await this.#perform(OP_DELETE, key, '', '', current.cas)).header.status
    if (status === STATUS_OK) return true
    if (status === STATUS_EXISTS || status === STATUS_NOT_FOUND) return false
    throw statusError('delete', status)
  }

  /** Compare, then write the token back with the new expiry at the version compared. */
  async extend (key: string, token: string, ttl: number): Promise<boolean> {
    const current = await this.#gets(key)
    if (current === undefined || current.value.toString() !== token) return false
    return await this.#casSet(key, token, lockExpiry(ttl), current.cas)
  }

  evictions (): null { return null }

  async close (): Promise<void> {
    this.client.close()
  }
}
