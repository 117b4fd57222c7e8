import { ERR_PYWATT_DB_CLOSED, ERR_PYWATT_DB_POOL_TIMEOUT, ERR_PYWATT_DB_QUERY } from '../errors.js'
import type { ExecuteResult, Queryable, Row } from './types.js'

/** node:tls codes of a server certificate that was not accepted (mysql2 renames them HANDSHAKE_SSL_ERROR). */
const CERT_REFUSED = /^(SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|UNABLE_TO_VERIFY_LEAF_SIGNATURE|CERT_[A-Z_]+|ERR_TLS_CERT_ALTNAME_INVALID)$/
const CERT_MESSAGE = /certificate|altnames/i

/** A driver's message, with what to do when it is a TLS refusal. */
function explain (err: unknown): string {
  const message = (err as Error | null)?.message ?? String(err)
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code !== 'string') return message
  if (CERT_REFUSED.test(code) || (code === 'HANDSHAKE_SSL_ERROR' && CERT_MESSAGE.test(message))) {
    const fix = /ALTNAME/.test(code) || /altnames/i.test(message)
      ? 'connect with a host name the certificate names, or use sslmode=verify-ca / ssl-mode=VERIFY_CA'
      : "trust the CA that signed it with sslrootcert / ssl-ca in the URL or the tls option's ca"
    return `TLS: the server's certificate was not accepted (${message}); ${fix}`
  }
  if (code === 'HANDSHAKE_NO_SSL_SUPPORT') return `TLS: ${message}`
  return message
}

/** Wrap a driver error (its message names no credentials) as `FST_PYWATT_DB_QUERY`. */
export function dbError (err: unknown): Error {
  const code = (err as { code?: unknown } | null)?.code
  if (err instanceof Error && typeof code === 'string' && code.startsWith('FST_PYWATT_DB_')) return err
  return new ERR_PYWATT_DB_QUERY(explain(err), { cause: err })
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
