/**
 * How a request reached the app: over HTTP, or tunnelled by the orchestrator
 * (`http_request`) on stdio, the TCP channel or the Unix-socket channel.
 */
export type RequestTransport = 'http' | 'stdio' | 'tcp' | 'unix'

/** The tunnelled ways in. */
export type IpcTransport = Exclude<RequestTransport, 'http'>

/**
 * The property HTTP-over-IPC sets on the raw request it builds. `Symbol.for`,
 * like the package's other shared keys: it still matches when an app ends up
 * with two installed copies of the package.
 */
export const kTransport: unique symbol = Symbol.for('fastify-pywatt.transport') as never

/** The way `raw` (a Fastify `request.raw`) came in: `http` unless HTTP over IPC marked it. */
export function transportOf (raw: object): RequestTransport {
  if (!(kTransport in raw)) return 'http'
  const mark = raw[kTransport]
  return mark === 'stdio' || mark === 'tcp' || mark === 'unix' ? mark : 'http'
}
