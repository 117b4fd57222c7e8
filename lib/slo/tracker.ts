import { EventEmitter } from 'node:events'
import { Objective, type SloStatus, type SloWindows } from './objective.js'

/** One objective of the options: availability, latency, or both, for one route or the whole app. */
export interface SloDefinition {
  /** Names the objective in metrics, logs and events (`checkout`; `:availability` / `:latency` is appended). */
  name: string
  /** A route pattern as declared (`/api/items/:id`); absent = every route. */
  route?: string
  /** Only this method (`GET`); absent = every method. */
  method?: string
  /** Fraction of requests that must not answer 5xx (0.999). */
  availability?: number
  /** Fraction of requests that must finish within `threshold` milliseconds. */
  latency?: { threshold: number, target: number }
}

/** What `breach` and `recover` listeners get. */
export interface SloEvent {
  status: SloStatus
}

interface Tracked {
  objective: Objective
  bad: (statusCode: number, durationMs: number) => boolean
  lastEvaluated: number
}

/** Evaluate at most this often per objective while requests flow. */
const EVALUATE_EVERY_MS = 1_000

/**
 * The module's service-level objectives: every answered request is recorded
 * against the objectives that cover its route, and a fast burn of an error
 * budget is reported once when it begins (`breach`) and once when it ends
 * (`recover`).
 */
export class SloTracker extends EventEmitter<{ breach: [SloEvent], recover: [SloEvent] }> {
  readonly #all: Tracked[] = []
  readonly #byRoute = new Map<string, Tracked[]>()
  readonly #now: () => number

  constructor (definitions: readonly SloDefinition[], windows: SloWindows, now: () => number = Date.now) {
    super()
    this.#now = now
    for (const d of definitions) {
      const tracked: Tracked[] = []
      if (d.availability !== undefined) {
        tracked.push({ objective: new Objective(`${d.name}:availability`, d.availability, windows), bad: (status) => status >= 500, lastEvaluated: 0 })
      }
      if (d.latency !== undefined) {
        const { threshold } = d.latency
        tracked.push({ objective: new Objective(`${d.name}:latency`, d.latency.target, windows), bad: (_status, ms) => ms > threshold, lastEvaluated: 0 })
      }
      this.#all.push(...tracked)
      const key = `${d.method?.toUpperCase() ?? '*'} ${d.route ?? '*'}`
      this.#byRoute.set(key, [...(this.#byRoute.get(key) ?? []), ...tracked])
    }
  }

  /** True when there is at least one objective. */
  get active (): boolean {
    return this.#all.length > 0
  }

  /** Record one answered request (`route` is its pattern, `undefined` when no route matched). */
  record (method: string, route: string | undefined, statusCode: number, durationMs: number): void {
    const now = this.#now()
    const keys = route === undefined ? ['* *'] : [`${method} ${route}`, `* ${route}`, `${method} *`, '* *']
    for (const key of keys) {
      const list = this.#byRoute.get(key)
      if (list === undefined) continue
      for (const t of list) {
        t.objective.record(now, t.bad(statusCode, durationMs))
        if (now - t.lastEvaluated >= EVALUATE_EVERY_MS) this.#evaluate(t, now)
      }
    }
  }

  #evaluate (t: Tracked, now: number): SloStatus {
    t.lastEvaluated = now
    const { status, change } = t.objective.evaluate(now)
    if (change !== null) this.emit(change, { status })
    return status
  }

  /** Every objective's status now (which also reports a breach that began or ended without traffic). */
  status (): SloStatus[] {
    const now = this.#now()
    return this.#all.map((t) => this.#evaluate(t, now))
  }
}
