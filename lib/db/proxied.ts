import { ERR_PYWATT_DB_POOL_TIMEOUT, ERR_PYWATT_MIGRATION } from '../errors.js'
import type { OperationResult } from '../services/service-client.js'
import type { Lease, ServicePool } from '../services/service-pool.js'
import { dbError, transactionHandle } from './common.js'
import type { Dialect, Driver, ExecuteResult, Row, TransactionBody } from './types.js'
import { executeFromWire, rowFromWire, toWire } from './wire.js'

/** The error of a wait for a free orchestrator connection (`pool.acquireTimeout`). */
export const poolTimeout = (timeout: number): Error => new ERR_PYWATT_DB_POOL_TIMEOUT(timeout)

/** The result of a successful operation; a failed one is `FST_PYWATT_DB_QUERY` with the orchestrator's message. */
function resultOf (m: OperationResult): unknown {
  if (!m.success) throw dbError(new Error(m.error ?? 'the orchestrator reported a failure without a message'))
  return m.result ?? null
}

function rowsOf (result: unknown): Row[] {
  return Array.isArray(result) ? result.map(rowFromWire) : []
}

/** `begin_transaction` answers the id as a string, or as `{transaction_id}`. */
function transactionId (result: unknown): string {
  const id = typeof result === 'object' && result !== null ? (result as { transaction_id?: unknown }).transaction_id : result
  if (typeof id !== 'string' && typeof id !== 'number') throw dbError(new Error('begin_transaction answered no transaction id'))
  return String(id)
}

/**
 * The orchestrator's Database service as a driver (docs/protocol.md §13): each
 * statement is one `service_operation` on a pooled connection; a transaction
 * holds one connection from `begin_transaction` to its commit or rollback.
 * The SQL dialect is the one the module was told, for placeholders only.
 */
export class ProxiedDriver implements Driver {
  readonly dialect: Dialect
  readonly #pool: ServicePool

  constructor (pool: ServicePool, dialect: Dialect) {
    this.#pool = pool
    this.dialect = dialect
  }

  async #run (operation: string, params: unknown): Promise<unknown> {
    return resultOf(await this.#pool.run(operation, params))
  }

  async query (sql: string, params: readonly unknown[]): Promise<Row[]> {
    return rowsOf(await this.#run('query', { query: sql, params: params.map(toWire) }))
  }

  async execute (sql: string, params: readonly unknown[]): Promise<ExecuteResult> {
    return executeFromWire(await this.#run('execute', { query: sql, params: params.map(toWire) }))
  }

  async transaction<R> (body: TransactionBody<R>): Promise<R> {
    const lease = await this.#pool.lease()
    try {
      return await runTransaction(lease, body)
    } finally {
      lease.release()
    }
  }

  /**
   * Migrations hold one connection for a session lock and run scripts: the
   * service has neither, and the orchestrator owns the schema of what it serves.
   */
  async session<R> (): Promise<R> {
    throw new ERR_PYWATT_MIGRATION('migrations need a database connection of the module\'s own: with db.via \'orchestrator\' the orchestrator owns the schema')
  }

  async ping (): Promise<void> {
    await this.#run('ping', null)
  }

  async close (): Promise<void> {
    await this.#pool.close()
  }
}

async function runTransaction<R> (lease: Lease, body: TransactionBody<R>): Promise<R> {
  const run = async (operation: string, params: unknown): Promise<unknown> => resultOf(await lease.run(operation, params))
  const id = transactionId(await run('begin_transaction', null))
  const { tx, end } = transactionHandle(
    async (sql, params) => rowsOf(await run('transaction_query', { transaction_id: id, query: sql, params: params.map(toWire) })),
    async (sql, params) => executeFromWire(await run('transaction_execute', { transaction_id: id, query: sql, params: params.map(toWire) })))
  let result: R
  try {
    result = await body(tx)
  } catch (err) {
    end()
    // The body's error is the one to report; a failed rollback leaves the orchestrator to end the transaction with the connection.
    await run('transaction_rollback', { transaction_id: id }).catch(() => {})
    throw err
  }
  end()
  await run('transaction_commit', { transaction_id: id })
  return result
}
