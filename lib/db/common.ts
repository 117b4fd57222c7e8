import { ERR_PYWATT_DB_CLOSED, ERR_PYWATT_DB_POOL_TIMEOUT, ERR_PYWATT_DB_QUERY } from '../errors.js'
import type { ExecuteResult, Queryable, Row } from './types.js'

/** Wrap a driver error (its message names no credentials) as `FST_PYWATT_DB_QUERY`. */
export function dbError (err: unknown): Error {
  const code = (err as { code?: unknown } | null)?.code
  if (err instanceof Error && typeof code === 'string' && code.startsWith('FST_PYWATT_DB_')) return err
  return new ERR_PYWATT_DB_QUERY((err as Error).message, { cause: err })
}

/** A transaction handle that refuses to run once its transaction has ended. */
export function transactionHandle (
  query: (sql: string, params: readonly unknown[]) => Promise<Row[]>,
  execute: (sql: string, params: readonly unknown[]) => Promise<ExecuteResult>
): { tx: Queryable, end: () => void } {
  let open = true
  const check = (): void => {
    if (!open) throw new ERR_PYWATT_DB_CLOSED('the transaction has already ended')
  }
  const tx: Queryable = {
    query: async <T>(sql: string, params: readonly unknown[] = []) => { check(); return await query(sql, params) as T[] },
    queryOne: async <T>(sql: string, params: readonly unknown[] = []) => { check(); return (await query(sql, params))[0] as T | undefined },
    execute: async (sql: string, params: readonly unknown[] = []) => { check(); return await execute(sql, params) }
  }
  return { tx, end: () => { open = false } }
}

interface Waiter {
  resolve: () => void
  timer: NodeJS.Timeout
}

/** A FIFO lock whose waits are bounded (SQLite's one connection). */
export class TimedLock {
  #held = false
  #waiters: Waiter[] = []

  get held (): boolean { return this.#held }

  acquire (timeout: number): Promise<void> {
    if (!this.#held) {
      this.#held = true
      return Promise.resolve()
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        timer: setTimeout(() => {
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1)
          reject(new ERR_PYWATT_DB_POOL_TIMEOUT(timeout))
        }, timeout)
      }
      this.#waiters.push(waiter)
    })
  }

  release (): void {
    const next = this.#waiters.shift()
    if (next === undefined) {
      this.#held = false
      return
    }
    clearTimeout(next.timer)
    next.resolve()
  }
}
