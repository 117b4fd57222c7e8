import { Type, type Static } from '#typebox'
import type { Registry } from 'prom-client'
import { checkOptions } from '../check-options.js'
import { ERR_PYWATT_INVALID_OPTIONS } from '../errors.js'

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
  buckets: Type.Optional(Type.Array(Type.Number({ exclusiveMinimum: 0 }), { minItems: 1 }))
}, { additionalProperties: false })

export type MetricsJsonOptions = Static<typeof MetricsOptionsSchema>

/** Check the options (`FST_PYWATT_INVALID_OPTIONS` naming the first problem). */
export function checkMetricsOptions (opts: unknown): asserts opts is MetricsJsonOptions {
  checkOptions(MetricsOptionsSchema, opts, 'metrics')
}

/** A prom-client `Registry`, told by what the plugin uses (each bundle may load its own prom-client). */
export function checkRegistry (value: unknown): asserts value is Registry {
  const r = value as Partial<Record<'getMetricsAsJSON' | 'registerMetric' | 'getSingleMetric' | 'removeSingleMetric', unknown>> | null
  if (typeof r !== 'object' || r === null || typeof r.getMetricsAsJSON !== 'function' || typeof r.registerMetric !== 'function' ||
    typeof r.getSingleMetric !== 'function' || typeof r.removeSingleMetric !== 'function') {
    throw new ERR_PYWATT_INVALID_OPTIONS('metrics registry: must be a prom-client Registry')
  }
}
