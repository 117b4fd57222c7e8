import type * as pg from 'pg'
import { loadPackage } from '../runtime/lazy-package.js'
import type { FastifyBaseLogger } from 'fastify'
import { ERR_PYWATT_DB_CONFIG, ERR_PYWATT_DB_POOL_TIMEOUT } from '../errors.js'
import { dbError, transactionHandle } from './common.js'
import { pgSsl } from './tls.js'
import type { Driver, ExecuteResult, PoolStats, ResolvedDatabaseConfig, Row, Session, TransactionBody } from './types.js'

/** Rows changed: pg counts a SELECT's rows in `rowCount`, which no other backend does. */
function affected (result: pg.QueryResult): number {
  return result.command === 'SELECT' ? 0 : result.rowCount ?? 0
}

/** A checked-out client's statements, failing with our errors, and a handle that refuses them once `end` is called. */
function checkedOut (client: pg.PoolClient): ReturnType<typeof transactionHandle> & { run: (sql: string, params: readonly unknown[]) => Promise<pg.QueryResult> } {
  const run = async (sql: string, params: readonly unknown[]): Promise<pg.QueryResult> => {
    try {
      return await client.query(sql, params as unknown[])
    } catch (err) {
      throw dbError(err)
    }
  }
  const { tx, end } = transactionHandle(
    async (sql, params) => (await run(sql, params)).rows,
    async (sql, params) => ({ rowsAffected: affected(await run(sql, params)) }))
  return { run, tx, end }
}

/** PostgreSQL through a `pg.Pool` we own. Placeholders: `$1`, `$2`, … */
export class PostgresDriver implements Driver {
  readonly dialect = 'postgres' as const
  readonly #pool: pg.Pool
  readonly #acquireTimeout: number
  #closed = false

  constructor (config: ResolvedDatabaseConfig, log?: FastifyBaseLogger) {
    this.#acquireTimeout = config.pool.acquireTimeout
    const { Pool } = loadPackage<typeof pg>('pg', { neededBy: 'the postgres backend', error: ERR_PYWATT_DB_CONFIG })
    const options: pg.PoolConfig = {
      host: config.host,
      port: config.port,
      user: config.user,
      password: config.password,
      database: config.database === '' ? undefined : config.database,
      max: config.pool.max,
      min: config.pool.min,
      idleTimeoutMillis: config.pool.idleTimeout,
      // pg counts whole seconds.
      maxLifetimeSeconds: Math.ceil(config.pool.maxLifetime / 1000),
      connectionTimeoutMillis: config.pool.acquireTimeout
    }
    // Unsaid, pg's own default stays (PGSSLMODE).
    const ssl = pgSsl(config.tls)
    if (ssl !== undefined) options.ssl = ssl
    if (config.applicationName !== undefined) options.application_name = config.applicationName
    this.#pool = new Pool(options)
    // An idle connection dropped by the server must not crash the process.
    this.#pool.on('error', (err) => log?.warn({ err: { message: err.message } }, 'an idle PostgreSQL connection failed'))
  }

  /** @internal The pg.Pool itself, for `fastify.pg` (lib/data/fastify-postgres.ts). */
  get pool (): pg.Pool { return this.#pool }

  poolStats (): PoolStats {
    return { total: this.#pool.totalCount, idle: this.#pool.idleCount, waiting: this.#pool.waitingCount }
  }

  #error (err: unknown): Error {
    if (err instanceof Error && /timeout exceeded when trying to connect/.test(err.message)) {
      return new ERR_PYWATT_DB_POOL_TIMEOUT(this.#acquireTimeout, { cause: err })
    }
    return dbError(err)
  }

  // The Database facade refuses work once closed; the pool is never used after end().
  async #connect (): Promise<pg.PoolClient> {
    try {
      return await this.#pool.connect()
    } catch (err) {
      throw this.#error(err)
    }
  }

  async query (sql: string, params: readonly unknown[]): Promise<Row[]> {
    try {
      return (await this.#pool.query(sql, params as unknown[])).rows
    } catch (err) {
      throw this.#error(err)
    }
  }

  async execute (sql: string, params: readonly unknown[]): Promise<ExecuteResult> {
    try {
      return { rowsAffected: affected(await this.#pool.query(sql, params as unknown[])) }
    } catch (err) {
      throw this.#error(err)
    }
  }

  async transaction<R> (body: TransactionBody<R>): Promise<R> {
    const client = await this.#connect()
    const { run, tx, end } = checkedOut(client)
    let broken: Error | undefined
    // A connection lost while checked out emits 'error' on the client: without
    // a listener that would crash the process; the next query reports it instead.
    const lost = (err: Error): void => { broken = err }
    client.on('error', lost)
    try {
      await run('BEGIN', [])
      let result: R
      try {
        result = await body(tx)
      } catch (err) {
        end()
        await run('ROLLBACK', []).catch((e: Error) => { broken = e })
        throw err
      }
      end()
      try {
        await run('COMMIT', [])
      } catch (err) {
        broken = err as Error
        throw err
      }
      return result
    } finally {
      // A connection whose ROLLBACK/COMMIT failed is destroyed, not reused.
      client.off('error', lost)
      client.release(broken)
    }
  }

  async session<R> (body: (session: Session) => Promise<R>): Promise<R> {
    const client = await this.#connect()
    const { run, tx, end } = checkedOut(client)
    // Without parameters pg sends the simple query protocol, which runs several statements.
    const session: Session = { ...tx, exec: async (script) => { await run(script, []) } }
    let failed: Error | undefined
    const lost = (err: Error): void => { failed = err }
    client.on('error', lost)
    try {
      return await body(session)
    } catch (err) {
      failed = err as Error
      throw err
    } finally {
      end()
      client.off('error', lost)
      // Destroyed after a failure: its session locks and any open transaction go with it.
      client.release(failed)
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
