import type * as mysql from 'mysql2'
import { loadPackage } from '../runtime/lazy-package.js'
import { ERR_PYWATT_DB_CONFIG, ERR_PYWATT_DB_POOL_TIMEOUT } from '../errors.js'
import { dbError, transactionHandle } from './common.js'
import { mysqlSsl } from './tls.js'
import type { Driver, ExecuteResult, PoolStats, ResolvedDatabaseConfig, Row, Session, TransactionBody } from './types.js'

type Result = mysql.QueryResult

function toResult (result: Result): ExecuteResult {
  if (Array.isArray(result)) return { rowsAffected: 0 }
  const header = result as mysql.ResultSetHeader
  const out: ExecuteResult = { rowsAffected: header.affectedRows }
  if (header.insertId !== 0) out.lastInsertId = header.insertId
  return out
}

function toRows (result: Result): Row[] {
  return Array.isArray(result) ? result as Row[] : []
}

/**
 * One statement on a checked-out connection, as a promise (the driver's error,
 * unwrapped). With `release`, the connection goes back to the pool as soon as
 * the answer is in, before anyone awaiting it runs.
 */
function run (conn: mysql.PoolConnection, sql: string, params: readonly unknown[], release?: (conn: mysql.PoolConnection) => void): Promise<Result> {
  return new Promise((resolve, reject) => {
    conn.query(sql, params as unknown[], (err, result) => {
      release?.(conn)
      if (err === null) resolve(result)
      else reject(err)
    })
  })
}

/**
 * MySQL and MariaDB through a mysql2 pool we own. Placeholders: `?`.
 *
 * mysql2's callback core, with one promise of ours per query: its promise
 * wrapper adds a connection wrapper and, by default, a captured stack trace to
 * every query, about a third of a query's client CPU where we measured it.
 * Errors are wrapped where the caller awaits, so their stacks still lead to
 * the caller.
 */
export class MysqlDriver implements Driver {
  readonly dialect = 'mysql' as const
  readonly #pool: mysql.Pool
  readonly #mysql: typeof mysql
  /** The pool's connection settings, for a session's connection of its own. */
  readonly #connection: mysql.ConnectionOptions
  readonly #acquireTimeout: number
  readonly #maxLifetime: number
  /** When each connection was opened, for `pool.maxLifetime` (mysql2 has no such setting). */
  readonly #born = new WeakMap<object, number>()
  #closed = false
  /*
   * The pool's counts, which mysql2 keeps in private fields only: connections
   * open (from its 'connection' event to the connection's end or error, or our
   * destroying it), those checked out by us and still open, and callers
   * waiting for one.
   */
  #open = 0
  readonly #busy = new Set<mysql.PoolConnection>()
  readonly #gone = new WeakSet<mysql.PoolConnection>()
  #waiting = 0
  /*
   * `pool.idleTimeout`, kept by us: mysql2 closes idle connections only
   * beyond `maxIdle`, and a `maxIdle` below the limit would close the last
   * ones within a second whatever their idle time.
   */
  readonly #idleTimeout: number
  /** Connections given back to the pool, and since when. */
  readonly #idleSince = new Map<mysql.PoolConnection, number>()
  readonly #reaper: NodeJS.Timeout

  constructor (config: ResolvedDatabaseConfig) {
    this.#acquireTimeout = config.pool.acquireTimeout
    this.#maxLifetime = config.pool.maxLifetime
    this.#idleTimeout = config.pool.idleTimeout
    this.#reaper = setInterval(() => { this.#reap() }, Math.min(1000, this.#idleTimeout))
    this.#reaper.unref()
    const ssl = mysqlSsl(config.tls)
    this.#connection = {
      ...(ssl === undefined ? {} : { ssl: ssl as mysql.SslOptions }),
      host: config.host,
      port: config.port,
      user: config.user,
      password: config.password,
      database: config.database === '' ? undefined : config.database,
      connectTimeout: config.pool.acquireTimeout,
      charset: 'utf8mb4',
      supportBigNumbers: true
    }
    this.#mysql = loadPackage<typeof mysql>('mysql2', { neededBy: 'the mysql backend', error: ERR_PYWATT_DB_CONFIG })
    this.#pool = this.#mysql.createPool({
      ...this.#connection,
      connectionLimit: config.pool.max,
      maxIdle: config.pool.max
    })
    this.#pool.on('connection', (conn) => {
      this.#open++
      if (this.#maxLifetime > 0) this.#born.set(conn, Date.now())
      const gone = (): void => { this.#forget(conn) }
      conn.once('end', gone)
      // mysql2's pool connection listens for its first error too: one more listener changes nothing of how errors surface.
      conn.once('error', gone)
    })
  }

  /** A connection closed (or being closed): it counts no more. */
  #forget (conn: mysql.PoolConnection): void {
    if (this.#gone.has(conn)) return
    this.#gone.add(conn)
    this.#open--
    this.#busy.delete(conn)
    this.#idleSince.delete(conn)
  }

  /** Close the connections idle for `pool.idleTimeout`: each sits in the pool's free list, and destroy() takes it out. */
  #reap (): void {
    const now = Date.now()
    for (const [conn, since] of this.#idleSince) {
      if (now - since < this.#idleTimeout) continue
      this.#forget(conn)
      conn.destroy()
    }
  }

  /** Back to the pool, or closed (a connection whose state is unknown). */
  #giveBack (conn: mysql.PoolConnection, destroy = false): void {
    this.#busy.delete(conn)
    if (destroy) {
      this.#forget(conn)
      conn.destroy()
    } else {
      this.#idleSince.set(conn, Date.now())
      conn.release()
    }
  }

  poolStats (): PoolStats {
    return { total: this.#open, idle: this.#open - this.#busy.size, waiting: this.#waiting }
  }

  /** A connection past `pool.maxLifetime`: closed at checkout, and another taken. */
  #expired (conn: mysql.PoolConnection): boolean {
    if (this.#maxLifetime === 0) return false
    // The pool hands out the connection object it announced in 'connection'.
    const born = this.#born.get(conn)
    return born !== undefined && Date.now() - born >= this.#maxLifetime
  }

  /** A pooled connection, or `FST_PYWATT_DB_POOL_TIMEOUT` (mysql2 waits forever). */
  #acquire (): Promise<mysql.PoolConnection> {
    this.#waiting++
    return new Promise((resolve, reject) => {
      let late = false
      const timer = setTimeout(() => {
        late = true
        this.#waiting--
        reject(new ERR_PYWATT_DB_POOL_TIMEOUT(this.#acquireTimeout))
      }, this.#acquireTimeout)
      const take = (): void => {
        this.#pool.getConnection((err, conn) => {
          if (err === null && !late && this.#expired(conn)) {
            this.#forget(conn)
            conn.destroy()
            take()
            return
          }
          clearTimeout(timer)
          if (late) {
            if (err === null) {
              this.#idleSince.set(conn, Date.now())
              conn.release()
            }
            return
          }
          this.#waiting--
          if (err !== null) {
            reject(err)
          } else {
            this.#idleSince.delete(conn)
            this.#busy.add(conn)
            resolve(conn)
          }
        })
      }
      take()
    })
  }

  /** One statement on a connection of its own, released when it is answered. */
  #run (sql: string, params: readonly unknown[]): Promise<Result> {
    return this.#acquire().then((conn) => run(conn, sql, params, (c) => { this.#giveBack(c) }))
  }

  async query (sql: string, params: readonly unknown[]): Promise<Row[]> {
    try {
      return toRows(await this.#run(sql, params))
    } catch (err) {
      throw dbError(err)
    }
  }

  async execute (sql: string, params: readonly unknown[]): Promise<ExecuteResult> {
    try {
      return toResult(await this.#run(sql, params))
    } catch (err) {
      throw dbError(err)
    }
  }

  async transaction<R> (body: TransactionBody<R>): Promise<R> {
    let conn: mysql.PoolConnection
    try {
      conn = await this.#acquire()
    } catch (err) {
      throw dbError(err)
    }
    const step = async (sql: string, params: readonly unknown[]): Promise<Result> => {
      try {
        return await run(conn, sql, params)
      } catch (err) {
        throw dbError(err)
      }
    }
    const { tx, end } = transactionHandle(
      async (sql, params) => toRows(await step(sql, params)),
      async (sql, params) => toResult(await step(sql, params)))
    let broken = false
    try {
      await step('START TRANSACTION', [])
      let result: R
      try {
        result = await body(tx)
      } catch (err) {
        end()
        await step('ROLLBACK', []).catch(() => { broken = true })
        throw err
      }
      end()
      try {
        await step('COMMIT', [])
      } catch (err) {
        broken = true
        throw err
      }
      return result
    } finally {
      this.#giveBack(conn, broken)
    }
  }

  /**
   * A connection outside the pool, the only one allowed several statements
   * per query (a migration file): the pool's never are, so a value spliced
   * into an app's SQL cannot append statements.
   */
  async session<R> (body: (session: Session) => Promise<R>): Promise<R> {
    const conn = this.#mysql.createConnection({ ...this.#connection, multipleStatements: true })
    const call = (sql: string, params: readonly unknown[]): Promise<Result> => new Promise((resolve, reject) => {
      conn.query(sql, params as unknown[], (err, result) => {
        if (err === null) resolve(result)
        else reject(dbError(err))
      })
    })
    // An 'error' event without a listener (the server closing the connection) would crash the process.
    conn.on('error', () => {})
    const { tx, end } = transactionHandle(
      async (sql, params) => toRows(await call(sql, params)),
      async (sql, params) => toResult(await call(sql, params)))
    try {
      return await body({ ...tx, exec: async (script) => { await call(script, []) } })
    } finally {
      end()
      // Closing the connection releases its GET_LOCK locks and rolls back an open transaction.
      conn.destroy()
    }
  }

  async ping (): Promise<void> {
    await this.query('SELECT 1', [])
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#reaper)
    await new Promise<void>((resolve, reject) => {
      this.#pool.end((err) => { if (err === null || err === undefined) resolve(); else reject(err) })
    })
  }
}
