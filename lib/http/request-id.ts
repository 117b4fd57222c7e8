import type { IncomingMessage } from 'node:http'

/**
 * The property HTTP-over-IPC sets on the raw request it builds: the
 * orchestrator's `request_id`, which becomes Fastify's `request.id` so that
 * every log line of the request carries the id the orchestrator knows.
 */
export const kRequestId: unique symbol = Symbol.for('fastify-pywatt.request-id') as never

/** An incoming `x-request-id` short and plain enough to put in every log line as it is. */
const PLAIN_ID = /^[\w.:@/+=-]{1,128}$/

/**
 * Fastify's request-id generator, extended: a tunnelled request gets its
 * `request_id`; a plain HTTP request its `x-request-id` header when
 * `honourHeader` (the app set no `requestIdHeader` of its own) and the value
 * is plain; any other request the id `previous` gives it.
 */
export function requestIdGenerator (previous: (req: IncomingMessage) => string, honourHeader: boolean): (req: IncomingMessage) => string {
  return (req) => {
    const tunnelled: unknown = kRequestId in req ? req[kRequestId] : undefined
    if (typeof tunnelled === 'string') return tunnelled
    if (honourHeader) {
      const header = req.headers['x-request-id']
      if (typeof header === 'string' && PLAIN_ID.test(header)) return header
    }
    return previous(req)
  }
}
