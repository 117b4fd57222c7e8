import { Counter, Histogram, type Registry } from 'prom-client'
import type { RequestTransport } from '../http/transport.js'

/** The `route` label of a request no route matched (404s of the not-found handler). */
export const UNMATCHED = 'unmatched'
const LABELS = ['method', 'route', 'status_code', 'transport'] as const
type Label = typeof LABELS[number]

/** The children of one label set: found once, then reused by every request with those labels. */
interface Series {
  readonly requests: Counter.Internal
  readonly duration: Histogram.Internal<Label>
}

/** Children of one route, by transport, method and status code. */
type RouteSeries = Record<RequestTransport, Map<string, Map<number, Series>>>

/**
 * `http_requests_total` and `http_request_duration_seconds`, labelled by
 * method, route pattern, status code and transport. Every label is bounded by
 * construction: routes are the app's patterns (or `unmatched`), methods are
 * those Fastify supports (a request with any other method, which HTTP over IPC
 * lets through, is answered 404 before any hook runs, so it is not counted),
 * status codes are 100–599, transports four. A
 * request looks its children up in nested maps keyed by strings it already
 * holds; only a label set seen for the first time allocates.
 */
export class HttpMetrics {
  readonly #requests: Counter<Label>
  readonly #duration: Histogram<Label>
  readonly #routes = new Map<string, RouteSeries>()

  constructor (registry: Registry, buckets: readonly number[] | undefined) {
    this.#requests = new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests answered, by method, route pattern, status code and transport (http, stdio, tcp, unix).',
      labelNames: LABELS,
      registers: [registry]
    })
    this.#duration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time from the request reaching Fastify to the end of its response, in seconds.',
      labelNames: LABELS,
      ...(buckets === undefined ? {} : { buckets: [...buckets] }),
      registers: [registry]
    })
  }

  /** The metric names, to remove them from a registry the app shares. */
  static readonly names = ['http_requests_total', 'http_request_duration_seconds'] as const

  /** Count one answered request. `route` is the route pattern, `undefined` when none matched. */
  observe (route: string | undefined, method: string, status: number, transport: RequestTransport, milliseconds: number): void {
    const series = this.#series(route ?? UNMATCHED, method, status, transport)
    series.requests.inc()
    series.duration.observe(milliseconds / 1000)
  }

  #series (route: string, method: string, status: number, transport: RequestTransport): Series {
    let byTransport = this.#routes.get(route)
    if (byTransport === undefined) {
      byTransport = { http: new Map(), stdio: new Map(), tcp: new Map(), unix: new Map() }
      this.#routes.set(route, byTransport)
    }
    const byMethod = byTransport[transport]
    let byStatus = byMethod.get(method)
    if (byStatus === undefined) {
      byStatus = new Map()
      byMethod.set(method, byStatus)
    }
    let series = byStatus.get(status)
    if (series === undefined) {
      const labels = { method, route, status_code: String(status), transport }
      series = { requests: this.#requests.labels(labels), duration: this.#duration.labels(labels) }
      byStatus.set(status, series)
    }
    return series
  }
}
