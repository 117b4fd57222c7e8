import { Type, type Static } from '#typebox'
import type { Registry } from 'prom-client'
import { checkOptions } from '../check-options.js'
import { ERR_PYWATT_INVALID_OPTIONS } from '../errors.js'

/** A fraction strictly between 0 and 1 (an objective of 1 leaves no budget). */
const Ratio = Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1 })

/** The JSON part of the options of `fastify-pywatt/metrics` (`registry` is checked apart: it is an object with methods). */
export const MetricsOptionsSchema = Type.Object({
  /** The scrape route (default `/metrics`). */
  path: Type.Optional(Type.String({ pattern: '^/', minLength: 1 })),
  /** prom-client's default process and Node.js metrics (default true). */
  defaultMetrics: Type.Optional(Type.Boolean()),
  /** Require `Authorization: Bearer <token>`: the token itself, or `{ secret }` naming the orchestrator secret that holds it. */
  bearerToken: Type.Optional(Type.Union([
    Type.String({ minLength: 1 }),
    Type.Object({ secret: Type.String({ minLength: 1 }) }, { additionalProperties: false })
  ])),
  /** Upper bounds of the `http_request_duration_seconds` buckets, in seconds (default prom-client's). */
  // A bound given twice would expose two series of the same `le`, which a scrape refuses.
  buckets: Type.Optional(Type.Array(Type.Number({ exclusiveMinimum: 0 }), { minItems: 1, uniqueItems: true })),
  /** Service-level objectives, judged in the process and exposed as metrics. */
  slo: Type.Optional(Type.Object({
    objectives: Type.Array(Type.Object({
      name: Type.String({ pattern: '^[A-Za-z0-9_.-]+$' }),
      /** A route pattern as declared; absent = every route. */
      route: Type.Optional(Type.String({ pattern: '^/' })),
      method: Type.Optional(Type.String({ minLength: 1 })),
      /** Fraction of requests that must not answer 5xx. */
      availability: Type.Optional(Ratio),
      /** Fraction of requests that must finish within `threshold` milliseconds. */
      latency: Type.Optional(Type.Object({ threshold: Type.Number({ exclusiveMinimum: 0 }), target: Ratio }, { additionalProperties: false }))
    }, { additionalProperties: false }), { minItems: 1 }),
    /** Short burn-rate window, ms (default 300 000). */
    shortWindow: Type.Optional(Type.Integer({ minimum: 1_000 })),
    /** Long burn-rate window, ms (default 3 600 000). */
    longWindow: Type.Optional(Type.Integer({ minimum: 1_000 })),
    /** Burn rate over which both windows mean a fast burn (default 14.4). */
    burnRate: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    /** The period the error budget is counted over, ms (default 86 400 000). */
    budgetWindow: Type.Optional(Type.Integer({ minimum: 60_000 }))
  }, { additionalProperties: false }))
}, { additionalProperties: false })

export type MetricsJsonOptions = Static<typeof MetricsOptionsSchema>

/** Check the options (`FST_PYWATT_INVALID_OPTIONS` naming the first problem). */
export function checkMetricsOptions (opts: unknown): asserts opts is MetricsJsonOptions {
  checkOptions(MetricsOptionsSchema, opts, 'metrics')
}

/** A prom-client `Registry`, told by what the plugin uses: the app's prom-client may be another copy than ours, so `instanceof` would refuse it. */
export function checkRegistry (value: unknown): asserts value is Registry {
  const r = value as Partial<Record<'getMetricsAsJSON' | 'registerMetric' | 'getSingleMetric' | 'removeSingleMetric', unknown>> | null
  if (typeof r !== 'object' || r === null || typeof r.getMetricsAsJSON !== 'function' || typeof r.registerMetric !== 'function' ||
    typeof r.getSingleMetric !== 'function' || typeof r.removeSingleMetric !== 'function') {
    throw new ERR_PYWATT_INVALID_OPTIONS('metrics registry: must be a prom-client Registry')
  }
}
