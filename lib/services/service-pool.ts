import type { FastifyBaseLogger } from 'fastify'
import { ERR_PYWATT_SERVICE } from '../errors.js'
import type { ServiceType } from '../protocol/index.js'
import { serviceLabel, type OperationResult, type ServiceClient } from './service-client.js'

/** How a {@link ServicePool} opens and uses its connections. */
export interface ServicePoolOptions {
  serviceType: ServiceType
  /** The `config` of each `service_request`. */
  config: unknown
  /** Connections kept open. */
  size: number
  /** Milliseconds an operation (or opening a connection) may take. */
  timeout: number
  /** Milliseconds a call may wait for a free connection, and the error it then fails with. */
  acquireTimeout: number
  acquireError: (timeout: number) => Error
  log: FastifyBaseLogger
}

interface Connection {
  id: string
  busy: boolean
  /** Lent to a transaction: nothing else runs on it until it is given back. */
  held: boolean
  retired: boolean
}

/** A connection lent for a sequence of operations (a transaction), run in order. */
export interface Lease {
  run: (operation: string, params: unknown) => Promise<OperationResult>
  /** Give the connection back (idempotent). */
  release: () => void
}

interface Waiter {
  take: (connection: Connection) => void
  fail: (err: Error) => void
}

type Claim = (connection: Connection) => void
const busy: Claim = (c) => { c.busy = true }
const held: Claim = (c) => { c.held = true }

/**
 * Connections of one orchestrator service, each with at most one operation in
 * flight (what lets a result be matched by its connection, docs/protocol.md §13).
 * Calls wait for a free connection in order, bounded by `acquireTimeout`. A
 * connection whose operation timed out is given up (closed without waiting)
 * and a fresh one is opened in its place.
 */
export class ServicePool {
  readonly #client: ServiceClient
  readonly #opts: ServicePoolOptions
  readonly #connections: Connection[] = []
  readonly #waiting: Waiter[] = []
  #opening = 0
  #closed = false

  constructor (client: ServiceClient, opts: ServicePoolOptions) {
    this.#client = client
    this.#opts = opts
  }

  /** Open every connection; rejects with the orchestrator's refusal (the ones opened are closed). */
  async start (): Promise<void> {
    const opened = await Promise.allSettled(Array.from({ length: this.#opts.size }, async () => await this.#open()))
    const refused = opened.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (refused !== undefined) {
      await this.close()
      throw refused.reason
    }
  }

  /** Run one operation on the next free connection. */
  async run (operation: string, params: unknown): Promise<OperationResult> {
    const connection = await this.#acquire(busy)
    try {
      return await this.#exchange(connection, operation, params)
    } finally {
      connection.busy = false
      this.#hand(connection)
    }
  }

  /** Hold a free connection for several operations. */
  async lease (): Promise<Lease> {
    const connection = await this.#acquire(held)
    let tail: Promise<unknown> = Promise.resolve()
    return {
      run: (operation, params) => {
        const next = tail.then(async () => await this.#exchange(connection, operation, params))
        tail = next.catch(() => {})
        return next
      },
      release: () => {
        if (!connection.held) return
        connection.held = false
        this.#hand(connection)
      }
    }
  }

  /**
   * Close every connection, each once its running operation or transaction
   * has ended; waiting calls fail. The `close` operations are not waited for:
   * at shutdown the channel may no longer deliver their results.
   */
  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const waiter of this.#waiting.splice(0)) waiter.fail(this.#closedError())
    for (const connection of [...this.#connections]) this.#hand(connection)
  }

  async #open (): Promise<void> {
    this.#opening++
    let id: string
    try {
      id = await this.#client.open(this.#opts.serviceType, this.#opts.config, this.#opts.timeout)
    } finally {
      this.#opening--
    }
    const connection: Connection = { id, busy: false, held: false, retired: false }
    this.#connections.push(connection)
    this.#hand(connection)
  }

  async #exchange (connection: Connection, operation: string, params: unknown): Promise<OperationResult> {
    if (connection.retired) throw new ERR_PYWATT_SERVICE(serviceLabel(this.#opts.serviceType), `the connection was given up after a timeout; '${operation}' was not sent`)
    return await this.#client.exchange(connection.id, this.#opts.serviceType, operation, params, {
      timeout: this.#opts.timeout,
      expired: () => this.#retire(connection)
    })
  }

  /** A timed-out result may still come: the connection cannot match results any more. */
  #retire (connection: Connection): void {
    if (connection.retired) return
    this.#opts.log.warn({ service: serviceLabel(this.#opts.serviceType), connectionId: connection.id }, 'an orchestrator operation timed out: its connection is closed and replaced')
    this.#shut(connection)
    if (!this.#closed) this.#refill()
  }

  #shut (connection: Connection): void {
    connection.retired = true
    this.#connections.splice(this.#connections.indexOf(connection), 1)
    this.#client.discard(connection.id, this.#opts.serviceType, 'close', this.#opts.timeout)
  }

  #closedError (): Error {
    return new ERR_PYWATT_SERVICE(serviceLabel(this.#opts.serviceType), 'the connections are closed')
  }

  /** A free connection, claimed at once (busy or held) so that no other call can take it meanwhile. */
  #acquire (claim: Claim): Promise<Connection> {
    if (this.#closed) return Promise.reject(this.#closedError())
    const free = this.#waiting.length === 0 ? this.#connections.find(idle) : undefined
    if (free !== undefined) {
      claim(free)
      return Promise.resolve(free)
    }
    if (this.#connections.length + this.#opening < this.#opts.size) this.#refill()
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.splice(this.#waiting.indexOf(waiter), 1)
        reject(this.#opts.acquireError(this.#opts.acquireTimeout))
      }, this.#opts.acquireTimeout)
      const waiter: Waiter = {
        take: (connection) => {
          clearTimeout(timer)
          claim(connection)
          resolve(connection)
        },
        fail: (err) => {
          clearTimeout(timer)
          reject(err)
        }
      }
      this.#waiting.push(waiter)
    })
  }

  /** Reopen what timeouts and failed replacements left missing. */
  #refill (): void {
    this.#open().catch((err: Error) => {
      this.#opts.log.error({ err: { message: err.message }, service: serviceLabel(this.#opts.serviceType) }, 'an orchestrator connection could not be opened')
    })
  }

  /** Give a connection that became free to the first waiter; once the pool is closed, close it. */
  #hand (connection: Connection): void {
    if (!idle(connection)) return
    if (this.#closed) {
      this.#shut(connection)
      return
    }
    const waiter = this.#waiting.shift()
    if (waiter !== undefined) waiter.take(connection)
  }
}

function idle (connection: Connection): boolean {
  return !connection.busy && !connection.held && !connection.retired
}
