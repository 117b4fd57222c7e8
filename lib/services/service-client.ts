import { randomUUID } from 'node:crypto'
import { isDeepStrictEqual } from 'node:util'
import type { FastifyBaseLogger } from 'fastify'
import { ERR_PYWATT_SERVICE } from '../errors.js'
import type { OrchestratorMessage, ServiceType } from '../protocol/index.js'
import type { StdioChannel } from '../transport/stdio-channel.js'

type ServiceResponse = Extract<OrchestratorMessage, { op: 'service_response' }>
type OperationResult = Extract<OrchestratorMessage, { op: 'service_operation_result' }>

interface PendingOperation {
  connectionId: string
  operation: string
  params: unknown
  resolve: (result: unknown) => void
  reject: (err: Error) => void
  timer: NodeJS.Timeout
}

function label (type: ServiceType): string {
  return typeof type === 'string' ? type : `Custom(${type.Custom})`
}

/**
 * The orchestrator's services over stdio (docs/protocol.md §13): `service_request`
 * opens a connection (its reply matched by `id`), `service_operation` runs an
 * operation on it.
 *
 * Assumption, documented: a `service_operation_result` has no id of its own,
 * so it is matched only through the echo of the operation in its `params`, the
 * echo the Rust SDK itself needs to match results. A result without a matching
 * echo is logged and dropped, and its operation times out: matching by arrival
 * order could hand one request's answer (a token's claims) to another.
 */
export class ServiceClient {
  readonly #channel: StdioChannel
  readonly #timeout: number
  readonly #log: FastifyBaseLogger
  readonly #opening = new Map<string, { resolve: (m: ServiceResponse | null) => void, timer: NodeJS.Timeout }>()
  readonly #operations = new Set<PendingOperation>()

  constructor (channel: StdioChannel, timeoutMs: number, log: FastifyBaseLogger) {
    this.#channel = channel
    this.#timeout = timeoutMs
    this.#log = log
    channel.router.on('service_response', (m) => this.#onResponse(m))
    channel.router.on('service_operation_result', (m) => this.#onResult(m))
  }

  /** Open a connection to a service; resolves with its `connection_id`. */
  async open (serviceType: ServiceType, config: unknown = null): Promise<string> {
    const id = `${label(serviceType).toLowerCase()}_request_${randomUUID()}`
    const response = await new Promise<ServiceResponse | null>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#opening.delete(id)
        resolve(null)
      }, this.#timeout)
      this.#opening.set(id, { resolve, timer })
      try {
        this.#channel.send({ op: 'service_request', id, service_type: serviceType, config })
      } catch (err) {
        clearTimeout(timer)
        this.#opening.delete(id)
        reject(err instanceof Error ? err : new Error(String(err)))
      }
    })
    if (response === null) throw new ERR_PYWATT_SERVICE(label(serviceType), `no service_response within ${this.#timeout} ms`)
    if (!response.success || response.connection_id == null) {
      throw new ERR_PYWATT_SERVICE(label(serviceType), response.error ?? 'the orchestrator refused the connection')
    }
    return response.connection_id
  }

  /** Run one operation on an open connection; resolves with its `result`. */
  async operate (connectionId: string, serviceType: ServiceType, operation: string, params: unknown): Promise<unknown> {
    return await new Promise<unknown>((resolve, reject) => {
      const pending: PendingOperation = {
        connectionId,
        operation,
        params,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#operations.delete(pending)
          reject(new ERR_PYWATT_SERVICE(label(serviceType), `no service_operation_result for '${operation}' within ${this.#timeout} ms`))
        }, this.#timeout)
      }
      this.#operations.add(pending)
      try {
        this.#channel.send({ op: 'service_operation', connection_id: connectionId, service_type: serviceType, operation, params })
      } catch (err) {
        clearTimeout(pending.timer)
        this.#operations.delete(pending)
        reject(err instanceof Error ? err : new Error(String(err)))
      }
    })
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
    const echo = m.params as { connection_id?: unknown, operation?: unknown, params?: unknown } | undefined
    for (const pending of this.#operations) {
      if (echo?.connection_id === pending.connectionId && echo.operation === pending.operation && isDeepStrictEqual(echo.params, pending.params)) {
        this.#operations.delete(pending)
        clearTimeout(pending.timer)
        if (m.success) pending.resolve(m.result ?? null)
        else pending.reject(new ERR_PYWATT_SERVICE(pending.operation, m.error ?? 'the operation failed'))
        return
      }
    }
    this.#log.warn({ echoed: echo !== undefined }, 'a service_operation_result matches no pending operation (is the operation echoed in its params?)')
  }
}

const clients = new WeakMap<StdioChannel, ServiceClient>()

/** The one service client of a channel (the op router takes one consumer per op). */
export function serviceClient (channel: StdioChannel, timeoutMs: number, log: FastifyBaseLogger): ServiceClient {
  let client = clients.get(channel)
  if (client === undefined) {
    client = new ServiceClient(channel, timeoutMs, log)
    clients.set(channel, client)
  }
  return client
}
