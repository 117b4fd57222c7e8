import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { transportOf } from './transport.js'

/** The span attribute that says how a request came in: `http`, `stdio`, `tcp` or `unix`. */
export const TRANSPORT_ATTRIBUTE = 'pywatt.transport'

/**
 * What is read of `request.opentelemetry()`, the decorator `@fastify/otel`
 * adds: typed here so that the package imports nothing of OpenTelemetry.
 */
interface TracedRequest {
  opentelemetry: () => { span?: { setAttribute: (key: string, value: string) => unknown } | null }
}

/** onRequest: marks the request span @fastify/otel started (none for a route with `otel: false`). */
function pywattTransportAttribute (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
  (request as unknown as TracedRequest).opentelemetry().span?.setAttribute(TRANSPORT_ATTRIBUTE, transportOf(request.raw))
  done()
}

/**
 * With `@fastify/otel` in place (its `request.opentelemetry` decorator is
 * there), each request span gets {@link TRANSPORT_ATTRIBUTE}. Its span is
 * started by its own onRequest hook, so ours must come after: @fastify/otel
 * has to be registered first. Registered later, it is detected when the app
 * is ready and a warning says so; without it, no hook is added at all.
 */
export function traceTransports (app: FastifyInstance, log: FastifyBaseLogger): void {
  if (app.hasRequestDecorator('opentelemetry')) {
    app.addHook('onRequest', pywattTransportAttribute)
    return
  }
  app.addHook('onReady', async () => {
    if (!app.hasRequestDecorator('opentelemetry')) return
    log.warn(`@fastify/otel was registered after fastify-pywatt: its spans lack ${TRANSPORT_ATTRIBUTE}; register @fastify/otel before fastify-pywatt, or create its instrumentation with registerOnInitialization: true`)
  })
}
