import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger, FastifyError } from 'fastify'
import type { CircuitBreakerPolicy } from 'cockatiel'
import { breakerStateName, cockatiel, type BreakerState } from '../resilience/cockatiel.js'
import { ERR_PYWATT_PORT_NEGOTIATION } from '../errors.js'
import type { ModuleMessage, OrchestratorMessage } from '../protocol/index.js'
import { isUuid, normaliseUuid } from '../protocol/uuid.js'
import { PORT_NEGOTIATION_DEFAULTS } from './options.js'

/** `{"op":"port_request", ...}` (docs/protocol.md §10.1). */
export type PortRequest = Extract<ModuleMessage, { op: 'port_request' }>
/** `{"op":"port_response", ...}` (docs/protocol.md §10.1). */
export type PortResponse = Extract<OrchestratorMessage, { op: 'port_response' }>

/**
 * Why a negotiation failed: `refused` (`success:false`), `invalid-port`
 * (`success:true` with port 0), `timeout` (every attempt timed out),
 * `circuit-open` (too many failures in a row: nothing was sent), `send-failed`
 * (stdout is gone), `closed` (the app is closing), `standalone` (there is no
 * orchestrator), `invalid-request` (the requested port is not 1..65535).
 */
export type PortNegotiationReason =
  | 'refused' | 'invalid-port' | 'timeout' | 'circuit-open' | 'send-failed' | 'closed' | 'standalone' | 'invalid-request'

/** `FST_PYWATT_PORT_NEGOTIATION`, with the reason it failed. */
export type PortNegotiationError = FastifyError & { reason: PortNegotiationReason }

/** Build a `FST_PYWATT_PORT_NEGOTIATION` error carrying `reason`. */
export function portNegotiationError (reason: PortNegotiationReason, message: string, cause?: unknown): PortNegotiationError {
  const err = cause === undefined ? new ERR_PYWATT_PORT_NEGOTIATION(message) : new ERR_PYWATT_PORT_NEGOTIATION(message, { cause })
  return Object.assign(err, { reason })
}

/** The state of a negotiator's circuit breaker. */
export type { BreakerState }

/** How a {@link PortNegotiator} talks and how patient it is. */
export interface PortNegotiatorOptions {
  /** Write one `port_request` to the orchestrator (throws when that is impossible). */
  send: (message: PortRequest) => void
  log: FastifyBaseLogger
  /** One timeout per attempt, in milliseconds (default 3000, 4000, 5000). */
  timeouts?: readonly number[]
  /** Consecutive failed negotiations that open the breaker (default 5). */
  threshold?: number
  /** Milliseconds the breaker stays open before it lets one negotiation through (default 60 000). */
  halfOpenAfter?: number
}

interface Negotiation {
  readonly specific: number | null
  /** Every request id this negotiation sent; the last is the attempt waiting now. */
  readonly ids: string[]
  timer: NodeJS.Timeout | null
  succeed: (port: number, requestId: string) => void
  fail: (err: PortNegotiationError) => void
}

const AUTO_ASSIGNED = 'auto-assigned'

/**
 * Asks the orchestrator for a port (docs/protocol.md §10) and resolves with the port
 * it granted. Unlike the Rust manager, nothing here is process-global, a reply
 * is only ever used by the negotiation that sent its `request_id`, and a
 * failure is an error, never an invented port.
 *
 * A negotiation makes one attempt per entry of `timeouts`, each with a fresh
 * `request_id` and the same `specific_port`. All of its ids stay valid until it
 * settles: the first answer to any of them settles it, since an earlier
 * attempt's late success is a port the orchestrator allocated for this module.
 * Answers after that match nothing and are logged and ignored.
 */
export class PortNegotiator {
  readonly #send: (message: PortRequest) => void
  readonly #log: FastifyBaseLogger
  readonly #timeouts: readonly number[]
  readonly #threshold: number
  readonly #halfOpenAfter: number
  #breaker: CircuitBreakerPolicy | null = null
  readonly #byId = new Map<string, Negotiation>()
  readonly #active = new Set<Negotiation>()
  #closed: string | null = null

  constructor (opts: PortNegotiatorOptions) {
    this.#send = opts.send
    this.#log = opts.log
    this.#timeouts = [...(opts.timeouts ?? PORT_NEGOTIATION_DEFAULTS.timeouts)]
    this.#threshold = opts.threshold ?? PORT_NEGOTIATION_DEFAULTS.threshold
    this.#halfOpenAfter = opts.halfOpenAfter ?? PORT_NEGOTIATION_DEFAULTS.halfOpenAfter
  }

  // Built by the first negotiation: most modules never negotiate, and loading
  // cockatiel would cost their cold start.
  #policy (): CircuitBreakerPolicy {
    if (this.#breaker !== null) return this.#breaker
    const { circuitBreaker, handleAll, ConsecutiveBreaker } = cockatiel()
    const breaker = circuitBreaker(handleAll, {
      halfOpenAfter: this.#halfOpenAfter,
      breaker: new ConsecutiveBreaker(this.#threshold)
    })
    breaker.onBreak(() => this.#log.error({ threshold: this.#threshold, halfOpenAfter: this.#halfOpenAfter },
      'port negotiation circuit breaker opened: negotiations fail at once until it half-opens'))
    breaker.onHalfOpen(() => this.#log.info('port negotiation circuit breaker half-open: one negotiation is let through'))
    breaker.onReset(() => this.#log.info('port negotiation circuit breaker closed'))
    this.#breaker = breaker
    return breaker
  }

  /** The circuit breaker's state. */
  get breakerState (): BreakerState {
    return this.#breaker === null ? 'closed' : breakerStateName(this.#breaker.state)
  }

  /** Negotiations waiting for an answer. */
  get pending (): number {
    return this.#active.size
  }

  /**
   * Ask for `specific` (or any port) and resolve with the port granted.
   * Rejects with `FST_PYWATT_PORT_NEGOTIATION` ({@link PortNegotiationError}).
   */
  async negotiate (specific: number | null = null): Promise<number> {
    if (specific !== null && !(Number.isInteger(specific) && specific >= 1 && specific <= 65535)) {
      throw portNegotiationError('invalid-request', `cannot ask for port ${String(specific)}: a port is an integer 1..65535`)
    }
    if (this.#closed !== null) throw portNegotiationError('closed', this.#closed)
    try {
      return await this.#policy().execute(() => this.#run(specific))
    } catch (err) {
      if (cockatiel().isBrokenCircuitError(err)) {
        throw portNegotiationError('circuit-open',
          `the circuit breaker is open after ${this.#threshold} failed negotiations in a row; nothing was sent (it lets one through ${this.#halfOpenAfter} ms after opening)`, err)
      }
      throw err
    }
  }

  /** Feed one `port_response` from the orchestrator. */
  receive (response: PortResponse): void {
    const id = isUuid(response.request_id) ? normaliseUuid(response.request_id) : response.request_id
    let negotiation = this.#byId.get(id)
    if (negotiation === undefined && id === AUTO_ASSIGNED) {
      // Without an id, the answer is only safe to use when one negotiation can have caused it.
      if (this.#active.size === 1) [negotiation] = this.#active
      else {
        this.#log.warn({ request_id: id, waiting: this.#active.size }, 'an auto-assigned port_response cannot be attributed to one negotiation: ignored')
        return
      }
    }
    if (negotiation === undefined) {
      this.#log.warn({ request_id: id, success: response.success, port: response.port },
        'a port_response matches no waiting port_request (unknown, or late for a settled negotiation): ignored')
      return
    }
    if (!response.success) {
      negotiation.fail(portNegotiationError('refused', `the orchestrator refused${negotiation.specific === null ? '' : ` port ${negotiation.specific}`}: ${response.error_message ?? 'no reason given'}`))
    } else if (response.port === 0) {
      negotiation.fail(portNegotiationError('invalid-port', 'the orchestrator answered success with port 0, which cannot be bound as agreed'))
    } else {
      negotiation.succeed(response.port, id)
    }
  }

  /** Fail every waiting negotiation and refuse new ones (the app is closing). */
  close (reason = 'the module is shutting down'): void {
    this.#closed = reason
    for (const negotiation of [...this.#active]) negotiation.fail(portNegotiationError('closed', reason))
  }

  #run (specific: number | null): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const finish = (): void => {
        if (negotiation.timer !== null) clearTimeout(negotiation.timer)
        for (const id of negotiation.ids) this.#byId.delete(id)
        this.#active.delete(negotiation)
      }
      const negotiation: Negotiation = {
        specific,
        ids: [],
        timer: null,
        succeed: (port, requestId) => {
          finish()
          const attempt = negotiation.ids.indexOf(requestId) + 1
          if (specific !== null && port !== specific) {
            this.#log.warn({ requested: specific, port }, 'the orchestrator granted another port than the one requested; using the one it granted')
          }
          this.#log.info({ port, request_id: requestId, attempt, attempts: negotiation.ids.length }, 'port granted by the orchestrator')
          resolve(port)
        },
        fail: (err) => {
          finish()
          reject(err)
        }
      }
      this.#active.add(negotiation)
      this.#attempt(negotiation)
    })
  }

  #attempt (negotiation: Negotiation): void {
    const attempt = negotiation.ids.length
    const timeout = this.#timeouts[attempt]
    if (timeout === undefined) {
      negotiation.fail(portNegotiationError('timeout',
        `no port_response after ${attempt} attempts (timeouts ${this.#timeouts.join(', ')} ms)`))
      return
    }
    const requestId = randomUUID()
    negotiation.ids.push(requestId)
    this.#byId.set(requestId, negotiation)
    negotiation.timer = setTimeout(() => {
      negotiation.timer = null
      this.#log.warn({ request_id: requestId, attempt: attempt + 1, timeout }, 'no port_response in time')
      this.#attempt(negotiation)
    }, timeout)
    try {
      this.#send({ op: 'port_request', request_id: requestId, specific_port: negotiation.specific ?? undefined })
    } catch (err) {
      negotiation.fail(portNegotiationError('send-failed', `the port_request could not be written: ${(err as Error).message}`, err))
    }
  }
}
