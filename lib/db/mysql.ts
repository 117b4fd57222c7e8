import type * as mysql from 'mysql2/promise'
import { loadDriver } from '../data/load-driver.js'
import { ERR_PYWATT_DB_POOL_TIMEOUT } from '../errors.js'
import { dbError, transactionHandle } from './common.js'
import type { Driver, ExecuteResult, ResolvedDatabaseConfig, Row, TransactionBody } from './types.js'

type Result = Awaited<ReturnType<mysql.PoolConnection['query']>>[0]

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

/** MySQL and MariaDB through a mysql2 pool we own. Placeholders: `?`. */
export class MysqlDriver implements Driver {
  readonly dialect = 'mysql' as const
  readonly #pool: mysql.Pool
  readonly #acquireTimeout: number
  #closed = false

  constructor (config: ResolvedDatabaseConfig) {
    this.#acquireTimeout = config.pool.acquireTimeout
    this.#pool = loadDriver<typeof mysql>('mysql2/promise').createPool({
      host: config.host,
      port: config.port,
      user: config.user,
      password: config.password,
      database: config.database === '' ? undefined : config.database,
      connectionLimit: config.pool.max,
      maxIdle: config.pool.max,
      idleTimeout: config.pool.idleTimeout,
      connectTimeout: config.pool.acquireTimeout,
      charset: 'utf8mb4',
      supportBigNumbers: true
    })
  }

  /** A pooled connection, or `FST_PYWATT_DB_POOL_TIMEOUT` (mysql2 waits forever). */
  #acquire (): Promise<mysql.PoolConnection> {
    return new Promise((resolve, reject) => {
      let late = false
      const timer = setTimeout(() => {
        late = true
        reject(new ERR_PYWATT_DB_POOL_TIMEOUT(this.#acquireTimeout))
      }, this.#acquireTimeout)
      this.#pool.getConnection().then((conn) => {
        clearTimeout(timer)
        if (late) conn.release()
        else resolve(conn)
      }, (err: unknown) => {
        clearTimeout(timer)
        reject(dbError(err))
      })
    })
  }

  async #run (sql: string, params: readonly unknown[]): Promise<Result> {
    const conn = await this.#acquire()
    try {
      return (await conn.query(sql, params as unknown[] as mysql.QueryValues))[0]
    } catch (err) {
      throw dbError(err)
    } finally {
      conn.release()
    }
  }

  async query (sql: string, params: readonly unknown[]): Promise<Row[]> {
    return toRows(await this.#run(sql, params))
  }

  async execute (sql: string, params: readonly unknown[]): Promise<ExecuteResult> {
    return toResult(await this.#run(sql, params))
  }

  async transaction<R> (body: TransactionBody<R>): Promise<R> {
    const conn = await this.#acquire()
    const run = async (sql: string, params: readonly unknown[]): Promise<Result> => {
      try {
        return (await conn.query(sql, params as unknown[] as mysql.QueryValues))[0]
      } catch (err) {
        throw dbError(err)
      }
    }
    const { tx, end } = transactionHandle(
      async (sql, params) => toRows(await run(sql, params)),
      async (sql, params) => toResult(await run(sql, params)))
    let broken = false
    try {
      await run('START TRANSACTION', [])
      let result: R
      try {
        result = await body(tx)
      } catch (err) {
        end()
        await run('ROLLBACK', []).catch(() => { broken = true })
        throw err
      }
      end()
      try {
        await run('COMMIT', [])
      } catch (err) {
        broken = true
        throw err
      }
      return result
    } finally {
      if (broken) conn.destroy()
      else conn.release()
    }
  }

  async ping (): Promise<void> {
    await this.query('SELECT 1', [])
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#pool.end()
  }
}
