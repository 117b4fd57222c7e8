import type { JwtReason } from './auth/verify.js'
import type { Dialect } from './db/types.js'
import type { PortNegotiationReason } from './port/negotiator.js'

/** How a `get_secret` request ended: a value came, the wait ran out, or it could not be asked / was failed (channel closed). */
export type SecretRequestOutcome = 'answered' | 'timeout' | 'failed'
/** A `rotated` notification: acked `success`, acked `error`, or nothing new (every key already at that rotation id). */
export type RotationOutcome = 'success' | 'error' | 'duplicate'
/** A port negotiation: `granted`, or the reason it failed. */
export type PortNegotiationOutcome = 'granted' | PortNegotiationReason
/** A JWT verification; `reason` is `none` when the token was accepted. */
export type JwtOutcome = 'accepted' | 'refused'

/**
 * What the metrics plugin watches besides the counters the runtime keeps:
 * events that need a clock (latencies) or happen outside the runtime's own
 * counters. Every call site reads {@link Observation.current} once and does
 * nothing else when it is `null`, so without the metrics plugin the cost is
 * one property read and a comparison (startup events are the exception, see
 * {@link Observation.report}).
 */
export interface Observer {
  secretRequest: (outcome: SecretRequestOutcome, seconds: number) => void
  rotation: (outcome: RotationOutcome) => void
  portNegotiation: (outcome: PortNegotiationOutcome) => void
  dbQuery: (backend: Dialect, ok: boolean, seconds: number) => void
  jwtVerification: (outcome: JwtOutcome, reason: JwtReason | 'none') => void
}

/** Events kept for an observer not attached yet: the startup secrets, a handful. */
const EARLY_MAX = 64

/**
 * One per app (created by the root plugin, shared through its internals), so
 * several apps in one process each count only their own events. The metrics
 * plugin attaches its observer when it registers and detaches it when the app
 * closes. The root plugin fetches its startup secrets before any other plugin
 * can register: events reported through {@link Observation.report} until then
 * are kept and replayed to the observer that attaches, until the app is ready.
 */
export class Observation {
  #current: Observer | null = null
  #early: Array<(observer: Observer) => void> | null = []

  get current (): Observer | null {
    return this.#current
  }

  /** An event that can happen before the metrics plugin registers. */
  report (event: (observer: Observer) => void): void {
    if (this.#current !== null) event(this.#current)
    else if (this.#early !== null && this.#early.length < EARLY_MAX) this.#early.push(event)
  }

  attach (observer: Observer): void {
    this.#current = observer
    const early = this.#early ?? []
    this.#early = null
    for (const event of early) event(observer)
  }

  detach (observer: Observer): void {
    if (this.#current === observer) this.#current = null
  }

  /** The app is ready: nobody who registers later could have seen the startup, so stop keeping events. */
  settle (): void {
    this.#early = null
  }
}

/** Seconds since `start` (a `performance.now()` reading). */
export function secondsSince (start: number): number {
  return (performance.now() - start) / 1000
}
