import { Counter, Histogram, type MetricObjectWithValues, type MetricValue, type MetricValueWithName, type Registry, type RegistryContentType } from 'prom-client'
import type { RequestTransport } from '../http/transport.js'

/** The `route` label of a request no route matched (404s of the not-found handler). */
export const UNMATCHED = 'unmatched'
const LABELS = ['method', 'route', 'status_code', 'transport'] as const
type Label = typeof LABELS[number]
type Labels = Readonly<Record<Label, string>>
/** prom-client's default bounds, so that the histogram reads as it did when prom-client kept it. */
const DEFAULT_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/** A histogram sample of prom-client's `getForPromString()`: its own labels, and those of its label set. */
interface SharedSample {
  labels: Readonly<{ le?: string | number }>
  sharedLabels: Labels
  value: number
  metricName: string
}
const NO_LABELS = Object.freeze({})

/**
 * The counts of one label set. The label objects are made (and frozen) once,
 * so a scrape hands the same objects out again and the exposition can reuse
 * their rendered text.
 */
class Series {
  count = 0
  sum = 0
  /** Observations per bucket, not cumulative; the last slot is above every bound. */
  readonly #perBucket: Float64Array
  readonly labels: Labels
  readonly #bucketLabels: ReadonlyArray<Readonly<Record<string, string | number>>>

  constructor (labels: Labels, bounds: readonly number[]) {
    this.labels = Object.freeze(labels)
    this.#perBucket = new Float64Array(bounds.length + 1)
    this.#bucketLabels = [...bounds, '+Inf'].map((le) => Object.freeze({ le, ...labels }))
  }

  observe (seconds: number, bounds: readonly number[]): void {
    let i = 0
    while (i < bounds.length && seconds > (bounds[i] as number)) i++
    (this.#perBucket[i] as number)++
    this.count++
    this.sum += seconds
  }

  /** The histogram's samples of this label set, as prom-client's `get()` gives them. */
  pushSamples (name: string, out: Array<MetricValueWithName<Label>>): void {
    const bucket = `${name}_bucket`
    let cumulative = 0
    for (let i = 0; i < this.#perBucket.length; i++) {
      cumulative += this.#perBucket[i] as number
      out.push({ labels: this.#bucketLabels[i] as Labels, value: cumulative, metricName: bucket })
    }
    out.push({ labels: this.labels, value: this.sum, metricName: `${name}_sum` }, { labels: this.labels, value: this.count, metricName: `${name}_count` })
  }

  /**
   * The same samples as prom-client's `getForPromString()` gives them: `le`
   * apart from the shared labels, which its `registry.metrics()` renders once
   * per label object.
   */
  pushSharedSamples (name: string, les: ReadonlyArray<Readonly<{ le: string | number }>>, out: SharedSample[]): void {
    const bucket = `${name}_bucket`
    let cumulative = 0
    for (let i = 0; i < this.#perBucket.length; i++) {
      cumulative += this.#perBucket[i] as number
      out.push({ labels: les[i] ?? NO_LABELS, sharedLabels: this.labels, value: cumulative, metricName: bucket })
    }
    out.push({ labels: NO_LABELS, sharedLabels: this.labels, value: this.sum, metricName: `${name}_sum` },
      { labels: NO_LABELS, sharedLabels: this.labels, value: this.count, metricName: `${name}_count` })
  }
}

/** Series of one route, by transport, method and status code. */
type RouteSeries = Record<RequestTransport, Map<string, Map<number, Series>>>

/** Every series, found by strings and numbers the request already holds. */
class SeriesTable {
  readonly #routes = new Map<string, RouteSeries>()
  /** Every series, in the order they appeared: what a scrape walks. */
  readonly #all: Series[] = []
  readonly bounds: readonly number[]
  /** The `le` label of each bucket, shared by every series. */
  readonly les: ReadonlyArray<Readonly<{ le: string | number }>>

  constructor (bounds: readonly number[]) {
    this.bounds = bounds
    this.les = [...bounds, '+Inf'].map((le) => Object.freeze({ le }))
  }

  get (route: string, method: string, status: number, transport: RequestTransport): Series {
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
      series = new Series({ method, route, status_code: String(status), transport }, this.bounds)
      byStatus.set(status, series)
      this.#all.push(series)
    }
    return series
  }

  all (): readonly Series[] {
    return this.#all
  }

  clear (): void {
    this.#routes.clear()
    this.#all.length = 0
  }
}

const REQUESTS = {
  name: 'http_requests_total',
  help: 'HTTP requests answered, by method, route pattern, status code and transport (http, stdio, tcp, unix).'
} as const
const DURATION = {
  name: 'http_request_duration_seconds',
  help: 'Time from the request reaching Fastify to the end of its response, in seconds.'
} as const

/**
 * What prom-client's `get()` returns. Its typings give `type` as a numeric
 * enum and require `collect`; at run time `type` is the type's name and
 * `collect` absent, which is what the registry and the exposition read.
 */
function family<V extends MetricValue<Label>> (meta: { name: string, help: string }, type: 'counter' | 'histogram', values: V[]): MetricObjectWithValues<V> {
  return { name: meta.name, help: meta.help, type, values, aggregator: 'sum' } as unknown as MetricObjectWithValues<V>
}

/*
 * The two metrics are prom-client classes, so the registry lists, exposes,
 * aggregates and resets them like any other, but their values come from the
 * table: prom-client's own observe hashes the label set on every call, even
 * through a child. `table` is undefined only while prom-client's constructor
 * runs (it resets the new metric).
 */

class RequestsCounter extends Counter<Label> {
  /** Set by prom-client from the configuration (an OpenMetrics `registry.metrics()` drops its `_total`). */
  declare readonly name: string
  declare readonly help: string
  private readonly table: SeriesTable | undefined

  constructor (registry: Registry<RegistryContentType>, table: SeriesTable) {
    super({
      ...REQUESTS,
      labelNames: LABELS,
      registers: [registry]
    })
    this.table = table
  }

  override async get (): Promise<MetricObjectWithValues<MetricValue<Label>>> {
    const values: Array<MetricValue<Label>> = []
    for (const series of this.table?.all() ?? []) values.push({ labels: series.labels, value: series.count })
    return family(this, 'counter', values)
  }

  override reset (): void {
    this.table?.clear()
  }
}

class DurationHistogram extends Histogram<Label> {
  declare readonly name: string
  declare readonly help: string
  private readonly table: SeriesTable | undefined

  constructor (registry: Registry<RegistryContentType>, table: SeriesTable) {
    super({
      ...DURATION,
      labelNames: LABELS,
      buckets: [...table.bounds],
      registers: [registry]
    })
    this.table = table
  }

  override async get (): Promise<MetricObjectWithValues<MetricValueWithName<Label>>> {
    const values: Array<MetricValueWithName<Label>> = []
    for (const series of this.table?.all() ?? []) series.pushSamples(this.name, values)
    return family(this, 'histogram', values)
  }

  /** prom-client's `registry.metrics()` prefers this to `get()`. */
  async getForPromString (): Promise<{ name: string, help: string, type: 'histogram', values: SharedSample[], aggregator: 'sum' }> {
    const values: SharedSample[] = []
    const les = this.table?.les ?? []
    for (const series of this.table?.all() ?? []) series.pushSharedSamples(this.name, les, values)
    return { name: this.name, help: this.help, type: 'histogram', values, aggregator: 'sum' }
  }

  override reset (): void {
    this.table?.clear()
  }
}

/**
 * `http_requests_total` and `http_request_duration_seconds`, labelled by
 * method, route pattern, status code and transport. Every label is bounded by
 * construction: routes are the app's patterns (or `unmatched`), methods are
 * those Fastify supports (a request with any other method, which HTTP over IPC
 * lets through, is answered 404 before any hook runs, so it is not counted),
 * status codes are 100–599, transports four. One series serves both metrics
 * (the counter is the histogram's count); a request looks it up in nested
 * maps and adds to numbers: only a label set seen for the first time allocates.
 */
export class HttpMetrics {
  readonly #table: SeriesTable

  constructor (registry: Registry<RegistryContentType>, buckets: readonly number[] | undefined) {
    this.#table = new SeriesTable([...(buckets ?? DEFAULT_BUCKETS)].sort((a, b) => a - b))
    // eslint-disable-next-line no-new
    new RequestsCounter(registry, this.#table)
    // eslint-disable-next-line no-new
    new DurationHistogram(registry, this.#table)
  }

  /** The metric names, to remove them from a registry the app shares. */
  static readonly names = ['http_requests_total', 'http_request_duration_seconds'] as const

  /** Count one answered request. `route` is the route pattern, `undefined` when none matched. */
  observe (route: string | undefined, method: string, status: number, transport: RequestTransport, milliseconds: number): void {
    this.#table.get(route ?? UNMATCHED, method, status, transport).observe(milliseconds / 1000, this.#table.bounds)
  }
}
