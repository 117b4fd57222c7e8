import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import type Sqlite from 'better-sqlite3'
import { packageFile, loadPackage } from '../runtime/lazy-package.js'
import { ERR_PYWATT_DB_CLOSED, ERR_PYWATT_DB_CONFIG } from '../errors.js'
import { dbError, TimedLock, transactionHandle } from './common.js'
import type { Driver, ExecuteResult, ResolvedDatabaseConfig, Row, Session, TransactionBody } from './types.js'

const STATEMENT_CACHE = 256

function convert (p: unknown): unknown {
  if (typeof p === 'boolean') return p ? 1 : 0
  if (p === undefined) return null
  if (p instanceof Date) return p.toISOString()
  return p
}

/** Parameters better-sqlite3 can bind; the array is copied only when a value needs converting. */
function bindable (params: readonly unknown[]): readonly unknown[] {
  for (let i = 0; i < params.length; i++) {
    const p = params[i]
    if (typeof p === 'boolean' || p === undefined || p instanceof Date) return params.map(convert)
  }
  return params
}

/**
 * SQLite through better-sqlite3: one connection, so statements outside a
 * transaction wait while one is open (bounded by `pool.acquireTimeout`).
 */
export class SqliteDriver implements Driver {
  readonly dialect = 'sqlite' as const
  readonly #db: Sqlite.Database
  readonly #statements = new Map<string, Sqlite.Statement>()
  #lastSql = ''
  #lastStatement: Sqlite.Statement | undefined
  readonly #lock = new TimedLock()
  readonly #acquireTimeout: number
  #closed = false

  constructor (config: ResolvedDatabaseConfig) {
    this.#acquireTimeout = config.pool.acquireTimeout
    try {
      if (config.filename !== ':memory:') mkdirSync(dirname(config.filename), { recursive: true })
      const Database = loadPackage<typeof Sqlite>('better-sqlite3', { neededBy: 'the sqlite backend', error: ERR_PYWATT_DB_CONFIG })
      // Where better-sqlite3's install puts its addon; without it, the `bindings` package searches (about 2 ms of a cold start).
      const nativeBinding = packageFile('better-sqlite3', 'build/Release/better_sqlite3.node')
      this.#db = new Database(config.filename, { timeout: config.pool.acquireTimeout, ...(nativeBinding === undefined ? {} : { nativeBinding }) })
      if (config.filename !== ':memory:') this.#db.pragma('journal_mode = WAL')
      this.#db.pragma('foreign_keys = ON')
    } catch (err) {
      throw dbError(err)
    }
  }

  // The last statement is kept apart from the cache: a query run again and
  // again (a route's) skips the Map lookup, about 1 % of an in-memory query.
  #statement (sql: string): Sqlite.Statement {
    if (sql === this.#lastSql && this.#lastStatement !== undefined) return this.#lastStatement
    let stmt = this.#statements.get(sql)
    if (stmt === undefined) {
      stmt = this.#db.prepare(sql)
      if (this.#statements.size >= STATEMENT_CACHE) this.#statements.delete(this.#statements.keys().next().value as string)
      this.#statements.set(sql, stmt)
    }
    this.#lastSql = sql
    this.#lastStatement = stmt
    return stmt
  }

  #query (sql: string, params: readonly unknown[]): Row[] {
    try {
      const stmt = this.#statement(sql)
      if (stmt.reader) return stmt.all(bindable(params)) as Row[]
      stmt.run(bindable(params))
      return []
    } catch (err) {
      throw dbError(err)
    }
  }

  #execute (sql: string, params: readonly unknown[]): ExecuteResult {
    try {
      const stmt = this.#statement(sql)
      if (stmt.reader) {
        stmt.all(bindable(params))
        return { rowsAffected: 0 }
      }
      const info = stmt.run(bindable(params))
      return { rowsAffected: info.changes, lastInsertId: info.lastInsertRowid }
    } catch (err) {
      throw dbError(err)
    }
  }

  #exclusive<R> (work: () => R): Promise<R> {
    if (this.#closed) return Promise.reject(new ERR_PYWATT_DB_CLOSED('the database is closed'))
    if (this.#lock.held) return this.#afterLock(work)
    // No transaction holds the connection: run now, without an async frame.
    try {
      return Promise.resolve(work())
    } catch (err) {
      return Promise.reject(err)
    }
  }

  async #afterLock<R> (work: () => R): Promise<R> {
    await this.#lock.acquire(this.#acquireTimeout)
    try {
      return work()
    } finally {
      this.#lock.release()
    }
  }

  query (sql: string, params: readonly unknown[]): Promise<Row[]> {
    return this.#exclusive(() => this.#query(sql, params))
  }

  queryNow (sql: string, params: readonly unknown[]): Row[] | null {
    return this.#closed || this.#lock.held ? null : this.#query(sql, params)
  }

  execute (sql: string, params: readonly unknown[]): Promise<ExecuteResult> {
    return this.#exclusive(() => this.#execute(sql, params))
  }

  async transaction<R> (body: TransactionBody<R>): Promise<R> {
    if (this.#closed) throw new ERR_PYWATT_DB_CLOSED('the database is closed')
    await this.#lock.acquire(this.#acquireTimeout)
    const { tx, end } = transactionHandle(
      async (sql, params) => this.#query(sql, params),
      async (sql, params) => this.#execute(sql, params))
    try {
      this.#db.exec('BEGIN')
      let result: R
      try {
        result = await body(tx)
      } catch (err) {
        end()
        if (this.#db.inTransaction) this.#db.exec('ROLLBACK')
        throw err
      }
      end()
      try {
        this.#db.exec('COMMIT')
      } catch (err) {
        if (this.#db.inTransaction) this.#db.exec('ROLLBACK')
        throw dbError(err)
      }
      return result
    } finally {
      this.#lock.release()
    }
  }

  // The one connection, held: the app's statements wait meanwhile, like during a transaction.
  async session<R> (body: (session: Session) => Promise<R>): Promise<R> {
    if (this.#closed) throw new ERR_PYWATT_DB_CLOSED('the database is closed')
    await this.#lock.acquire(this.#acquireTimeout)
    const { tx, end } = transactionHandle(
      async (sql, params) => this.#query(sql, params),
      async (sql, params) => this.#execute(sql, params))
    const session: Session = {
      ...tx,
      exec: async (script) => {
        try {
          this.#db.exec(script)
        } catch (err) {
          throw dbError(err)
        }
      }
    }
    try {
      return await body(session)
    } finally {
      end()
      // A body that failed inside its own BEGIN must not leave the connection in a transaction.
      if (this.#db.open && this.#db.inTransaction) this.#db.exec('ROLLBACK')
      this.#lock.release()
    }
  }

  async ping (): Promise<void> {
    await this.query('SELECT 1', [])
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#statements.clear()
    this.#db.close()
  }
}
