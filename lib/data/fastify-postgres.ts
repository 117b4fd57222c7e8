import { EventEmitter } from 'node:events'
import type { FastifyInstance, FastifyPluginCallback } from 'fastify'
import type * as pg from 'pg'
import type { Database } from '../db/index.js'
import type { Slot } from '../db/database.js'
import type { Driver } from '../db/types.js'
import { PostgresDriver } from '../db/postgres.js'
import { ERR_PYWATT_DB_CONFIG } from '../errors.js'
import { loadPackage } from '../runtime/lazy-package.js'

type Callback = (err: Error | null, ...rest: unknown[]) => void

/** The events of a pg.Pool a listener on `fastify.pg.pool` hears, whichever pool is current. */
const POOL_EVENTS = ['connect', 'acquire', 'release', 'remove'] as const

/**
 * `fastify.pg.pool`: one object for the life of the module, over the pg.Pool
 * of the database's current driver. A rotation of the URL secret swaps that
 * pool (`Database.replace`); each call here goes to the pool current at that
 * moment and holds it (`Database.hold`) until it finishes, a checked-out
 * client until its `release()`, so work in flight finishes on the old pool
 * and the old pool is closed after it.
 */
export class LivePool extends EventEmitter {
  readonly #db: Database
  readonly #seen = new WeakSet<pg.Pool>()
  #driver: Driver | undefined
  #pool: pg.Pool | undefined

  constructor (db: Database) {
    super()
    this.#db = db
  }

  #hold (): { pool: pg.Pool, release: () => void } {
    const { driver, release } = this.#db.hold()
    try {
      return { pool: this.#poolOf(driver), release }
    } catch (err) {
      release()
      throw err
    }
  }

  /** The driver's pg.Pool, its events forwarded; checked once per driver, not per call. */
  #poolOf (driver: Driver): pg.Pool {
    if (driver === this.#driver) return this.#pool!
    if (!(driver instanceof PostgresDriver)) {
      throw new ERR_PYWATT_DB_CONFIG(`fastify.pg needs PostgreSQL; the database is now ${driver.dialect} (the URL secret was rotated to another kind)`)
    }
    this.adopt(driver.pool)
    this.#driver = driver
    this.#pool = driver.pool
    return driver.pool
  }

  /** Forward a pool's events to listeners of this object (once per pool). */
  adopt (pool: pg.Pool): void {
    if (this.#seen.has(pool)) return
    this.#seen.add(pool)
    for (const event of POOL_EVENTS) pool.on(event, (...args: unknown[]) => this.emit(event, ...args))
    // Our driver already listens for 'error'; an 'error' with no listener here must not throw.
    pool.on('error', (...args: unknown[]) => { if (this.listenerCount('error') > 0) this.emit('error', ...args) })
  }

  #current (): pg.Pool {
    const { pool, release } = this.#hold()
    release()
    return pool
  }

  get totalCount (): number { return this.#current().totalCount }
  get idleCount (): number { return this.#current().idleCount }
  get waitingCount (): number { return this.#current().waitingCount }
  get expiredCount (): number { return this.#current().expiredCount }
  get options (): pg.PoolConfig { return this.#current().options }
  get ending (): boolean { return false }
  get ended (): boolean { return false }

  /** A client of the current pool; the pool is held until `client.release()`. */
  connect (): Promise<pg.PoolClient>
  connect (callback: (err: Error | undefined, client: pg.PoolClient | undefined, done: (release?: Error | boolean) => void) => void): void
  connect (callback?: (err: Error | undefined, client: pg.PoolClient | undefined, done: (release?: Error | boolean) => void) => void): Promise<pg.PoolClient> | undefined {
    const connected = this.#connect()
    if (callback === undefined) return connected
    connected.then((client) => callback(undefined, client, client.release), (err: Error) => callback(err, undefined, () => {}))
    return undefined
  }

  async #connect (): Promise<pg.PoolClient> {
    const { pool, release } = this.#hold()
    let client: pg.PoolClient
    try {
      client = await pool.connect()
    } catch (err) {
      release()
      throw err
    }
    // pg-pool gives a client a new `release` at every checkout: wrap this one.
    const give = client.release
    client.release = (err?: Error | boolean) => {
      try {
        give(err)
      } finally {
        release()
      }
    }
    return client
  }

  /**
   * `pool.query(text, values?, callback?)` or `pool.query(config, callback?)`, on the current pool.
   * This runs on every `fastify.pg.query`: named parameters (no rest array), the
   * slot counted without a handle, and pg-pool's callback form, which settles
   * the caller's promise and the count in one step (a `then` on pg-pool's own
   * promise cost one more promise and reaction per query).
   */
  query (text: unknown, values?: unknown, callback?: unknown): Promise<pg.QueryResult> | undefined {
    let done: Callback | undefined
    if (typeof callback === 'function') {
      done = callback as Callback
    } else if (typeof values === 'function') {
      done = values as Callback
      values = undefined
    }
    if (done !== undefined) {
      this.#run(text, values, done)
      return undefined
    }
    return new Promise((resolve, reject) => {
      this.#run(text, values, (err, res) => { if (err == null) resolve(res as pg.QueryResult); else reject(err) })
    })
  }

  #run (text: unknown, values: unknown, done: Callback): void {
    let slot: Slot
    let pool: pg.Pool
    try {
      slot = this.#db.enter()
    } catch (err) {
      process.nextTick(done, err)
      return
    }
    try {
      pool = this.#poolOf(slot.driver)
    } catch (err) {
      slot.leave()
      process.nextTick(done, err)
      return
    }
    const leave = slot.leave
    ;(pool.query as (text: unknown, values: unknown, cb: Callback) => void)(text, values, (err, res) => {
      leave()
      done(err, res)
    })
  }

  /** A no-op: the module's pool is closed with the app (`onClose`), not by `@fastify/postgres`. */
  end (): Promise<void>
  end (callback: () => void): void
  end (callback?: () => void): Promise<void> | undefined {
    if (callback === undefined) return Promise.resolve()
    process.nextTick(callback)
    return undefined
  }
}

/** A `pg` module for `@fastify/postgres`'s `pg` option: its `Pool` is the live pool. */
export function livePgModule (pool: LivePool): { Pool: new () => LivePool, Client: typeof pg.Client, native: null } {
  const { Client } = loadPackage<typeof pg>('pg', { neededBy: 'the postgres backend', error: ERR_PYWATT_DB_CONFIG })
  return {
    // @fastify/postgres calls `new pg.Pool(options)`: a constructor returning an object yields that object.
    Pool: function Pool () { return pool } as unknown as new () => LivePool,
    Client,
    native: null
  }
}

/** Register `@fastify/postgres` over the database's pool (the root plugin's `db.fastifyPostgres`). */
export async function registerFastifyPostgres (app: FastifyInstance, db: Database): Promise<LivePool> {
  const pool = new LivePool(db)
  const plugin = loadPackage<FastifyPluginCallback<Record<string, unknown>>>('@fastify/postgres', {
    neededBy: 'fastify.pg', error: ERR_PYWATT_DB_CONFIG, otherwise: 'or db: { fastifyPostgres: false } for no fastify.pg'
  })
  await app.register(plugin, { pg: livePgModule(pool) })
  return pool
}
