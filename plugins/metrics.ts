import type { FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { collectDefaultMetrics, Registry } from 'prom-client'
import { ERR_PYWATT_INVALID_OPTIONS } from '../lib/errors.js'
import { internalsOf } from '../lib/internals.js'
import { transportOf, type RequestTransport } from '../lib/http/transport.js'
import { StartupBudget } from '../lib/runtime/startup-budget.js'
import { bearerMatches } from '../lib/metrics/bearer.js'
import { expose, negotiateFormat, OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE } from '../lib/metrics/exposition.js'
import { HttpMetrics } from '../lib/metrics/http.js'
import { checkMetricsOptions, checkRegistry, type MetricsJsonOptions } from '../lib/metrics/options.js'
import { defineRuntimeMetrics } from '../lib/metrics/runtime.js'
import { defineObservedMetrics } from '../lib/metrics/observed.js'
import { defineSloMetrics } from '../lib/metrics/slo.js'
import { DEFAULT_SLO_WINDOWS } from '../lib/slo/objective.js'
import { SloTracker } from '../lib/slo/tracker.js'
import type { Cache } from '../lib/cache/index.js'
// Types only: `fastify.pywatt.ipcHttp`, read when that sub-plugin is registered.
import type {} from './ipc-http.js'
import { sharedStderrStats } from '../lib/logging/stderr-sink.js'

/** Options of `fastify-pywatt/metrics`. */
export interface PyWattMetricsOptions extends MetricsJsonOptions {
  /**
   * The prom-client registry to fill and expose, e.g. prom-client's global
   * `register` to expose metrics the app defines there. Default: one of the
   * plugin's own.
   */
  registry?: Registry
}

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * How the request came in: `http`, or tunnelled by the orchestrator over
     * `stdio`, the `tcp` channel or the `unix` (ipc) channel. With `fastify-pywatt/metrics`.
     */
    readonly pywattTransport: RequestTransport
  }
}

declare module './types.js' {
  interface PyWattNamespace {
    /** The registry `/metrics` exposes, when `fastify-pywatt/metrics` is registered. */
    metrics?: { registry: Registry }
    /**
     * The service-level objectives of the metrics plugin's `slo` option:
     * `status()`, and `breach` / `recover` events when a fast burn of an
     * error budget begins and ends.
     */
    slo?: SloTracker
  }
}

/** Metric names prom-client's default metrics always define: present means they are collected already (a shared registry). */
const DEFAULT_METRIC_PROBE = 'process_cpu_user_seconds_total'

/**
 * `fastify-pywatt/metrics`: `GET /metrics` in the Prometheus text format (or
 * OpenMetrics when the scraper asks), with HTTP metrics per route pattern and
 * transport and the module's protocol, channel, cache and log counters.
 */
const metricsPlugin: FastifyPluginAsync<PyWattMetricsOptions> = async (app, options) => {
  const { registry: given, ...json } = options
  checkMetricsOptions(json)
  if (given !== undefined) checkRegistry(given)
  const registry = given ?? new Registry()
  const path = json.path ?? '/metrics'
  const internals = internalsOf(app.pywatt)
  const ours: string[] = [...HttpMetrics.names]
  for (const name of ours) {
    if (registry.getSingleMetric(name) !== undefined) {
      throw new ERR_PYWATT_INVALID_OPTIONS(`metrics registry: it already holds ${name} (fastify-pywatt/metrics registered twice on one registry?)`)
    }
  }

  // Read at scrape time from the counters the runtime keeps anyway.
  const pywatt = app.pywatt
  ours.push(...defineRuntimeMetrics(registry, {
    moduleId: pywatt.moduleId,
    stdio: pywatt.channel,
    channels: pywatt.channels,
    secrets: pywatt.secrets,
    ipcHttp: () => ({ load: internals.ipcHttpLoad, replies: pywatt.ipcHttp }),
    cache: () => {
      // Absent with `cache: false`; the default in-memory cache is created on first use, cheaply.
      const cache: Cache | undefined = pywatt.cache
      return cache === undefined ? undefined : { kind: cache.kind, stats: cache.stats() }
    },
    stderr: sharedStderrStats
  }))
  // Events the parts report to this app's observation point; a check of a null field where nobody observes.
  const observed = defineObservedMetrics(registry, () => internals.database)
  ours.push(...observed.names)
  internals.observation.attach(observed.observer)
  app.addHook('onClose', async () => { internals.observation.detach(observed.observer) })
  const http = new HttpMetrics(registry, json.buckets)
  const slo = sloTracker(json.slo)
  if (slo !== null) {
    ours.push(...defineSloMetrics(registry, slo))
    slo.on('breach', ({ status }) => app.log.warn({ slo: status }, `SLO ${status.name}: the error budget is burning fast`))
    slo.on('recover', ({ status }) => app.log.info({ slo: status }, `SLO ${status.name}: the fast burn is over`))
    // Without traffic and without scrapes, a breach still ends.
    const timer = setInterval(() => slo.status(), 10_000)
    timer.unref()
    app.addHook('onClose', async () => { clearInterval(timer) })
  }
  if (json.defaultMetrics !== false && registry.getSingleMetric(DEFAULT_METRIC_PROBE) === undefined) {
    collectDefaultMetrics({ register: registry })
  }
  // Ours leave a shared registry with the app; prom-client's default metrics are process-wide and stay.
  if (given !== undefined) {
    app.addHook('onClose', async () => { for (const name of ours) registry.removeSingleMetric(name) })
  }

  // The token: fixed, or the secret's current value (read per scrape, so it follows rotation).
  const bearer = json.bearerToken
  let expectedToken: (() => string | undefined) | null = null
  if (typeof bearer === 'string') {
    expectedToken = () => bearer
  } else if (bearer !== undefined) {
    const startup = internals.startup
    try {
      await pywatt.secrets.fetch(bearer.secret, { timeout: new StartupBudget(app.initialConfig.pluginTimeout ?? 0).clamp(startup.secretTimeout) })
    } catch (err) {
      throw startup.refuse(err as Error, 'refusing to start: the metrics bearer token secret is unavailable')
    }
    expectedToken = () => pywatt.secrets.peek(bearer.secret)
  }

  app.decorateRequest('pywattTransport', { getter () { return transportOf(this.raw) } })
  Object.assign(pywatt, { metrics: { registry }, ...(slo === null ? {} : { slo }) })

  // Every route, declared before or after this plugin: Fastify gives routes the hooks of their context when the app is ready.
  app.addHook('onResponse', function (request, reply, done) {
    // Each read of routeOptions builds an object, and of elapsedTime reads the clock: once per request.
    const route = request.routeOptions.url
    const elapsed = reply.elapsedTime
    http.observe(route, request.method, reply.statusCode, transportOf(request.raw), elapsed)
    slo?.record(request.method, route, reply.statusCode, elapsed)
    done()
  })

  // Announced as the health route is (builtin, so with or without route
  // discovery), never marked auth: jwt, so the jwt plugin leaves it open.
  internals.builtinEndpoints.push({ path, methods: ['GET'] })
  app.get(path, { config: { pywatt: { announce: false } } }, async (request, reply) => {
    if (expectedToken !== null && !bearerMatches(request.headers.authorization, expectedToken())) {
      return await reply.code(401).header('www-authenticate', 'Bearer').send({ statusCode: 401, error: 'Unauthorized', message: 'Unauthorized' })
    }
    const format = negotiateFormat(request.headers.accept)
    const body = await expose(registry, format)
    return await reply
      .header('content-type', format === 'openmetrics' ? OPENMETRICS_CONTENT_TYPE : PROMETHEUS_CONTENT_TYPE)
      .header('cache-control', 'no-store')
      .send(body)
  })
}

function sloTracker (option: MetricsJsonOptions['slo']): SloTracker | null {
  if (option === undefined) return null
  const short = option.shortWindow ?? DEFAULT_SLO_WINDOWS.short
  const long = option.longWindow ?? DEFAULT_SLO_WINDOWS.long
  if (short >= long) throw new ERR_PYWATT_INVALID_OPTIONS(`metrics slo: shortWindow (${short} ms) must be shorter than longWindow (${long} ms)`)
  return new SloTracker(option.objectives, {
    short,
    long,
    burnRate: option.burnRate ?? DEFAULT_SLO_WINDOWS.burnRate,
    budget: option.budgetWindow ?? DEFAULT_SLO_WINDOWS.budget
  })
}

export const metrics = fp(metricsPlugin, {
  name: 'fastify-pywatt/metrics',
  fastify: '5.x',
  dependencies: ['fastify-pywatt'],
  decorators: { fastify: ['pywatt'] }
})
export default metrics
export type { RequestTransport } from '../lib/http/transport.js'
export { UNMATCHED } from '../lib/metrics/http.js'
export type { SloTracker, SloDefinition, SloEvent } from '../lib/slo/tracker.js'
export type { SloStatus } from '../lib/slo/objective.js'
