import type { FastifyBaseLogger } from 'fastify'
import { ERR_PYWATT_DB_CLOSED } from '../errors.js'
import { secondsSince, type Observation, type Observer } from '../observe.js'
import { resolveDatabaseConfig } from './config.js'
import { MysqlDriver } from './mysql.js'
import { PostgresDriver } from './postgres.js'
import { SqliteDriver } from './sqlite.js'
import { migrate, type MigrateOptions, type MigrationResult } from './migrations/runner.js'
import type { DatabaseOptions, Dialect, Driver, ExecuteResult, PoolStats, Queryable, ResolvedDatabaseConfig, Row, Session, TransactionBody } from './types.js'

/** A driver that can answer a query synchronously (SQLite). */
type InProcessDriver = Driver & Required<Pick<Driver, 'queryNow'>>

function answersAtOnce (driver: Driver): driver is InProcessDriver {
  return driver.queryNow !== undefined
}

/** @internal Build the driver of a resolved configuration (no I/O for pools: they connect lazily). */
export function createDriver (config: ResolvedDatabaseConfig, log?: FastifyBaseLogger): Driver {
  if (config.dialect === 'postgres') return new PostgresDriver(config, log)
  if (config.dialect === 'mysql') return new MysqlDriver(config)
  return new SqliteDriver(config)
}

/** @internal A backend and the work running on it (see {@link Database.enter}). */
export interface Slot {
  driver: Driver
  inflight: number
  retired: boolean
  /** Ends one unit of work counted by `enter`: built once per backend, so a caller allocates nothing per call. */
  leave: () => void
}

/**
 * `fastify.pywatt.db`: one API over PostgreSQL, MySQL/MariaDB and SQLite.
 * `replace()` swaps the backend (secret rotation): new work goes to the new
 * pool at once, the old pool is closed when the work it runs has finished.
 */
export class Database implements Queryable {
  #slot: Slot
  #closed = false
  readonly #log: FastifyBaseLogger | undefined
  readonly #retiring = new Set<Promise<void>>()
  /** The app's observation point (metrics); without it, or while nobody observes, statements are not timed. */
  readonly #observation: Observation | null

  constructor (driver: Driver, log?: FastifyBaseLogger, observation: Observation | null = null) {
    this.#slot = this.#newSlot(driver)
    this.#log = log
    this.#observation = observation
  }

  #newSlot (driver: Driver): Slot {
    const slot: Slot = { driver, inflight: 0, retired: false, leave: () => { this.#settled(slot) } }
    return slot
  }

  /** @internal The current pool's connections, for metrics; `null` when the driver does not count them (MySQL, SQLite). */
  poolStats (): PoolStats | null {
    return this.#slot.driver.poolStats?.() ?? null
  }

  /** `postgres` (`$1` placeholders), `mysql` or `sqlite` (`?` placeholders). */
  get dialect (): Dialect { return this.#slot.driver.dialect }

  /** The placeholder of the `n`-th parameter (1-based) in this dialect. */
  placeholder (n: number): string {
    return this.dialect === 'postgres' ? `$${n}` : '?'
  }

  // Not async: one `then` instead of an async frame and its awaits on every query.
  #use<R> (work: (driver: Driver) => Promise<R>): Promise<R> {
    if (this.#closed) return Promise.reject(new ERR_PYWATT_DB_CLOSED('the database is closed'))
    const slot = this.#slot
    slot.inflight++
    let running: Promise<R>
    try {
      running = work(slot.driver)
    } catch (err) {
      this.#settled(slot)
      return Promise.reject(err)
    }
    return running.then((value) => {
      this.#settled(slot)
      return value
    }, (err: unknown) => {
      this.#settled(slot)
      throw err
    })
  }

  /**
   * @internal Count work on the current backend that runs outside this class
   * (`fastify.pg`'s clients): the backend is not closed by a swap until every
   * `release` has been called. `release` is idempotent.
   */
  hold (): { driver: Driver, release: () => void } {
    if (this.#closed) throw new ERR_PYWATT_DB_CLOSED('the database is closed')
    const slot = this.#slot
    slot.inflight++
    let held = true
    return {
      driver: slot.driver,
      release: () => {
        if (!held) return
        held = false
        this.#settled(slot)
      }
    }
  }

  /**
   * @internal `hold` for work that settles exactly once (`fastify.pg.query`):
   * the current slot, counted; call its `leave` once when the work settles.
   * No handle is built, which `hold` pays on every call.
   */
  enter (): Slot {
    if (this.#closed) throw new ERR_PYWATT_DB_CLOSED('the database is closed')
    const slot = this.#slot
    slot.inflight++
    return slot
  }

  #settled (slot: Slot): void {
    if (--slot.inflight === 0 && slot.retired) this.#retire(slot)
  }

  #retire (slot: Slot): void {
    const closing = slot.driver.close().catch((err: Error) => {
      this.#log?.warn({ err: { message: err.message } }, 'closing the previous database pool failed')
    }).finally(() => this.#retiring.delete(closing))
    this.#retiring.add(closing)
  }

  query<T = Row> (sql: string, params: readonly unknown[] = []): Promise<T[]> {
    const observer = this.#observation?.current ?? null
    if (observer !== null) return timed(observer, this.dialect, () => this.#query(sql, params)) as Promise<T[]>
    return this.#query(sql, params) as Promise<T[]>
  }

  #query (sql: string, params: readonly unknown[]): Promise<Row[]> {
    const driver = this.#slot.driver
    if (answersAtOnce(driver) && !this.#closed) return this.#queryNow(driver, sql, params)
    return this.#use((d) => d.query(sql, params))
  }

  // An in-process driver answers at once, settled by an async frame (cheaper
  // than Promise.resolve). Nothing can be retired meanwhile. `null`: it is busy
  // (a transaction holds it), so the query waits its turn.
  async #queryNow (driver: InProcessDriver, sql: string, params: readonly unknown[]): Promise<Row[]> {
    return driver.queryNow(sql, params) ?? await this.#use((d) => d.query(sql, params))
  }

  async queryOne<T = Row> (sql: string, params: readonly unknown[] = []): Promise<T | undefined> {
    return (await this.query<T>(sql, params))[0]
  }

  execute (sql: string, params: readonly unknown[] = []): Promise<ExecuteResult> {
    const observer = this.#observation?.current ?? null
    if (observer !== null) return timed(observer, this.dialect, () => this.#use((d) => d.execute(sql, params)))
    return this.#use((d) => d.execute(sql, params))
  }

  /**
   * Run `body` in a transaction: committed when it resolves, rolled back when it throws.
   * Observed, each statement of the body is timed (not the body's own code).
   */
  transaction<R> (body: TransactionBody<R>): Promise<R> {
    const observer = this.#observation?.current ?? null
    if (observer === null) return this.#use((d) => d.transaction(body))
    const backend = this.dialect
    return this.#use((d) => d.transaction(async (tx) => await body(observedTx(tx, observer, backend))))
  }

  /** @internal Run `body` on one connection of its own (the migration runner's); statements are not observed. */
  session<R> (body: (session: Session) => Promise<R>): Promise<R> {
    return this.#use((d) => d.session(body))
  }

  /**
   * Apply the migrations of a directory (its path, or options) that this
   * database has not recorded yet, in order; see the README's Migrations.
   * Resolves with the files applied now; refuses (`FST_PYWATT_MIGRATION`) an
   * applied file that was edited since.
   */
  migrate (options: string | MigrateOptions): Promise<MigrationResult> {
    return migrate(this, typeof options === 'string' ? { dir: options } : options)
  }

  /** `SELECT 1`; rejects when the database is unreachable. */
  ping (): Promise<void> {
    return this.#use((d) => d.ping())
  }

  /** Swap to a new backend; the old one closes once its running work is done. */
  replace (driver: Driver): void {
    if (this.#closed) throw new ERR_PYWATT_DB_CLOSED('the database is closed')
    const old = this.#slot
    this.#slot = this.#newSlot(driver)
    old.retired = true
    if (old.inflight === 0) this.#retire(old)
  }

  /** Close the pool (and any pool still draining after a swap). */
  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await Promise.all([this.#slot.driver.close(), ...this.#retiring])
  }
}

/** Time one statement and report it as ok or error. */
function timed<R> (observer: Observer, backend: Dialect, run: () => Promise<R>): Promise<R> {
  const start = performance.now()
  let running: Promise<R>
  try {
    running = run()
  } catch (err) {
    observer.dbQuery(backend, false, secondsSince(start))
    return Promise.reject(err)
  }
  return running.then((value) => {
    observer.dbQuery(backend, true, secondsSince(start))
    return value
  }, (err: unknown) => {
    observer.dbQuery(backend, false, secondsSince(start))
    throw err
  })
}

/** A transaction handle whose statements are timed. */
function observedTx (tx: Queryable, observer: Observer, backend: Dialect): Queryable {
  const query = <T = Row>(sql: string, params?: readonly unknown[]): Promise<T[]> => timed(observer, backend, () => tx.query<T>(sql, params))
  return {
    query,
    queryOne: async <T = Row>(sql: string, params?: readonly unknown[]): Promise<T | undefined> => (await query<T>(sql, params))[0],
    execute: (sql, params) => timed(observer, backend, () => tx.execute(sql, params))
  }
}

/** Build a database from a URL and/or explicit options. */
export function createDatabase (options: DatabaseOptions = {}, log?: FastifyBaseLogger): Database {
  return new Database(createDriver(resolveDatabaseConfig(options), log), log)
}
