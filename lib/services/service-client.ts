import { randomUUID } from 'node:crypto'
import { isDeepStrictEqual } from 'node:util'
import type { FastifyBaseLogger } from 'fastify'
import { ERR_PYWATT_SERVICE } from '../errors.js'
import type { OrchestratorMessage, ServiceType } from '../protocol/index.js'
import type { StdioChannel } from '../transport/stdio-channel.js'

type ServiceResponse = Extract<OrchestratorMessage, { op: 'service_response' }>
/** A `service_operation_result` as received: `success`, `result`, `error` and perhaps the echo in `params`. */
export type OperationResult = Extract<OrchestratorMessage, { op: 'service_operation_result' }>

interface PendingOperation {
  connectionId: string
  operation: string
  params: unknown
  settle: (m: OperationResult) => void
  timer: NodeJS.Timeout
}

/** How long one wait may last, and what to do when an operation already sent outlives it. */
export interface ExchangeOptions {
  timeout: number
  /** Called when the operation was sent and no result came in time: its connection can no longer be trusted. */
  expired: () => void
  /** Nobody waits for it: its timer must not hold the process open once everything else has ended. */
  background?: boolean
}

/** The name of a service type in messages and ids. */
export function serviceLabel (type: ServiceType): string {
  return typeof type === 'string' ? type : `Custom(${type.Custom})`
}

/**
 * The orchestrator's services over stdio (docs/protocol.md §13): `service_request`
 * opens a connection (its reply matched by `id`), `service_operation` runs an
 * operation on it. A `service_operation_result` has no id of its own, so there
 * are two ways to match it:
 *
 * - {@link operate} (JWT): only through the echo of the whole operation in its
 *   `params`. Without that echo the result is dropped and the operation times
 *   out: arrival order could hand one request's answer (a token's claims) to another.
 * - {@link exchange} (database and cache): the caller keeps at most one
 *   operation in flight per connection, so an echoed `connection_id` names it.
 *   A result without an echo names nothing; it is taken only when its operation
 *   is the only one in flight on the channel. So until the orchestrator has been
 *   seen echoing, exchanges are sent one at a time, and after a timeout the next
 *   is held back for one more timeout, which lets a late result arrive (and be
 *   dropped) while nothing could take it.
 */
export class ServiceClient {
  readonly #channel: StdioChannel
  readonly #log: FastifyBaseLogger
  readonly #opening = new Map<string, { resolve: (m: ServiceResponse | null) => void, timer: NodeJS.Timeout }>()
  readonly #echoMatched = new Set<PendingOperation>()
  readonly #byConnection = new Map<string, PendingOperation>()
  /** Connections given up after a timeout: a result that echoes one is late, dropped quietly. */
  readonly #retired = new Set<string>()
  /** Whether the orchestrator echoes operations in results; `null` until a result has told. */
  #echoes: boolean | null = null
  readonly #held: Array<() => void> = []
  #quiet: NodeJS.Timeout | null = null

  constructor (channel: StdioChannel, log: FastifyBaseLogger) {
    this.#channel = channel
    this.#log = log
    channel.router.on('service_response', (m) => this.#onResponse(m))
    channel.router.on('service_operation_result', (m) => this.#onResult(m))
  }

  /** Open a connection to a service; resolves with its `connection_id`. */
  async open (serviceType: ServiceType, config: unknown, timeout: number): Promise<string> {
    const id = `${serviceLabel(serviceType).toLowerCase()}_request_${randomUUID()}`
    const response = await new Promise<ServiceResponse | null>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#opening.delete(id)
        resolve(null)
      }, timeout)
      this.#opening.set(id, { resolve, timer })
      try {
        this.#channel.send({ op: 'service_request', id, service_type: serviceType, config })
      } catch (err) {
        clearTimeout(timer)
        this.#opening.delete(id)
        reject(err instanceof Error ? err : new Error(String(err)))
      }
    })
    if (response === null) throw new ERR_PYWATT_SERVICE(serviceLabel(serviceType), `no service_response within ${timeout} ms`)
    if (!response.success || response.connection_id == null) {
      throw new ERR_PYWATT_SERVICE(serviceLabel(serviceType), response.error ?? 'the orchestrator refused the connection')
    }
    return response.connection_id
  }

  /** Run one operation, matched by its full echo only; resolves with its `result`, rejects on a failure. */
  async operate (connectionId: string, serviceType: ServiceType, operation: string, params: unknown, timeout: number): Promise<unknown> {
    const m = await new Promise<OperationResult>((resolve, reject) => {
      const pending = this.#pending(connectionId, operation, params, resolve, timeout, () => {
        this.#echoMatched.delete(pending)
        reject(this.#timedOut(serviceType, operation, timeout))
      })
      this.#echoMatched.add(pending)
      this.#send(pending, serviceType, reject, () => this.#echoMatched.delete(pending))
    })
    if (!m.success) throw new ERR_PYWATT_SERVICE(operation, m.error ?? 'the operation failed')
    return m.result ?? null
  }

  /**
   * Run one operation on a connection that has nothing else in flight (the
   * caller's promise); resolves with the result message, failed or not.
   * The timeout covers the wait to be sent as well.
   */
  exchange (connectionId: string, serviceType: ServiceType, operation: string, params: unknown, opts: ExchangeOptions): Promise<OperationResult> {
    return new Promise<OperationResult>((resolve, reject) => {
      let sent = false
      const go = (): void => {
        sent = true
        this.#byConnection.set(connectionId, pending)
        this.#send(pending, serviceType, reject, () => {
          this.#byConnection.delete(connectionId)
          this.#release()
        })
      }
      const pending = this.#pending(connectionId, operation, params, (m) => {
        this.#release()
        resolve(m)
      }, opts.timeout, () => {
        if (!sent) {
          this.#held.splice(this.#held.indexOf(go), 1)
          reject(new ERR_PYWATT_SERVICE(serviceLabel(serviceType), `'${operation}' could not be sent within ${opts.timeout} ms (results are matched by arrival order, one at a time)`))
          return
        }
        this.#byConnection.delete(connectionId)
        this.#retired.add(connectionId)
        if (this.#echoes !== true) this.#hush(opts.timeout)
        this.#release()
        opts.expired()
        reject(this.#timedOut(serviceType, operation, opts.timeout))
      })
      if (opts.background === true) pending.timer.unref()
      if (this.#mayExchange()) go()
      else this.#held.push(go)
    })
  }

  /**
   * Send an operation whose result nobody waits for (closing a connection):
   * it is still an exchange, so that its result cannot be taken for another's.
   */
  discard (connectionId: string, serviceType: ServiceType, operation: string, timeout: number): void {
    this.#retired.add(connectionId)
    this.exchange(connectionId, serviceType, operation, null, { timeout, expired: () => {}, background: true }).catch((err: Error) => {
      this.#log.debug({ err: { message: err.message }, connectionId }, `'${operation}' on a connection given up got no result`)
    })
  }

  #pending (connectionId: string, operation: string, params: unknown, settle: (m: OperationResult) => void, timeout: number, onTimeout: () => void): PendingOperation {
    return { connectionId, operation, params, settle, timer: setTimeout(onTimeout, timeout) }
  }

  #timedOut (serviceType: ServiceType, operation: string, timeout: number): Error {
    return new ERR_PYWATT_SERVICE(serviceLabel(serviceType), `no service_operation_result for '${operation}' within ${timeout} ms`)
  }

  #send (pending: PendingOperation, serviceType: ServiceType, reject: (err: Error) => void, forget: () => void): void {
    try {
      this.#channel.send({ op: 'service_operation', connection_id: pending.connectionId, service_type: serviceType, operation: pending.operation, params: pending.params })
    } catch (err) {
      clearTimeout(pending.timer)
      forget()
      reject(err instanceof Error ? err : new Error(String(err)))
    }
  }

  /** Arrival order is only safe with one exchange in flight, until the orchestrator is seen echoing. */
  #mayExchange (): boolean {
    return this.#echoes === true || (this.#byConnection.size === 0 && this.#quiet === null)
  }

  #release (): void {
    while (this.#held.length > 0 && this.#mayExchange()) this.#held.shift()!()
  }

  #hush (timeout: number): void {
    if (this.#quiet !== null) clearTimeout(this.#quiet)
    this.#quiet = setTimeout(() => {
      this.#quiet = null
      this.#release()
    }, timeout)
    this.#quiet.unref()
  }

  #onResponse (m: ServiceResponse): void {
    const waiter = this.#opening.get(m.id)
    if (waiter === undefined) {
      this.#log.warn({ id: m.id }, 'a service_response matches no open request')
      return
    }
    this.#opening.delete(m.id)
    clearTimeout(waiter.timer)
    waiter.resolve(m)
  }

  #onResult (m: OperationResult): void {
    const echo = m.params as { connection_id?: unknown, operation?: unknown, params?: unknown } | null | undefined
    const connectionId = typeof echo === 'object' && echo !== null && typeof echo.connection_id === 'string' ? echo.connection_id : undefined
    const pending = connectionId === undefined ? this.#alone() : this.#echoed(connectionId, echo!)
    if (pending === undefined) {
      if (connectionId !== undefined && this.#retired.has(connectionId)) {
        this.#log.debug({ connectionId }, 'a late service_operation_result of a connection given up was dropped')
      } else {
        this.#log.warn({ echoed: connectionId !== undefined }, 'a service_operation_result matches no pending operation and was dropped')
      }
      return
    }
    this.#echoes = connectionId !== undefined
    clearTimeout(pending.timer)
    pending.settle(m)
  }

  /** The pending operation an echo names, taken out of its table. */
  #echoed (connectionId: string, echo: { operation?: unknown, params?: unknown }): PendingOperation | undefined {
    const exchanged = this.#byConnection.get(connectionId)
    if (exchanged !== undefined && (echo.operation === undefined || echo.operation === exchanged.operation)) {
      this.#byConnection.delete(connectionId)
      return exchanged
    }
    for (const pending of this.#echoMatched) {
      if (pending.connectionId === connectionId && echo.operation === pending.operation && isDeepStrictEqual(echo.params, pending.params)) {
        this.#echoMatched.delete(pending)
        return pending
      }
    }
    return undefined
  }

  /** The exchange a result without an echo belongs to: the only operation in flight, or none. */
  #alone (): PendingOperation | undefined {
    if (this.#byConnection.size !== 1 || this.#echoMatched.size !== 0) {
      // The orchestrator stopped echoing: exchanges go one at a time again.
      if (this.#echoes === true) this.#echoes = false
      return undefined
    }
    const [[connectionId, pending]] = this.#byConnection
    this.#byConnection.delete(connectionId)
    return pending
  }
}

const clients = new WeakMap<StdioChannel, ServiceClient>()

/** The one service client of a channel (the op router takes one consumer per op). */
export function serviceClient (channel: StdioChannel, log: FastifyBaseLogger): ServiceClient {
  let client = clients.get(channel)
  if (client === undefined) {
    client = new ServiceClient(channel, log)
    clients.set(channel, client)
  }
  return client
}
