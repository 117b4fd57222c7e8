import { EventEmitter } from 'node:events'
import type { FastifyInstance, FastifyPluginCallback } from 'fastify'
import type * as pg from 'pg'
import type { Database } from '../db/index.js'
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

  constructor (db: Database) {
    super()
    this.#db = db
  }

  #hold (): { pool: pg.Pool, release: () => void } {
    const { driver, release } = this.#db.hold()
    if (!(driver instanceof PostgresDriver)) {
      release()
      throw new ERR_PYWATT_DB_CONFIG(`fastify.pg needs PostgreSQL; the database is now ${driver.dialect} (the URL secret was rotated to another kind)`)
    }
    this.adopt(driver.pool)
    return { pool: driver.pool, release }
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

  /** `pool.query(text, values?, callback?)` or `pool.query(config, callback?)`, on the current pool. */
  query (...args: unknown[]): Promise<pg.QueryResult> | undefined {
    const callback = typeof args.at(-1) === 'function' ? args.pop() as Callback : undefined
    let running: Promise<pg.QueryResult>
    try {
      const { pool, release } = this.#hold()
      running = (pool.query as (...a: unknown[]) => Promise<pg.QueryResult>)(...args)
      running.then(release, release)
    } catch (err) {
      running = Promise.reject(err)
    }
    if (callback === undefined) return running
    running.then((res) => callback(null, res), (err: Error) => callback(err))
    return undefined
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
