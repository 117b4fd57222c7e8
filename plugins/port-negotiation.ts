import type { FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { PortNegotiator, portNegotiationError, type PortNegotiationError } from '../lib/port/negotiator.js'
import { resolvePortNegotiationOptions, type PortNegotiationOptions } from '../lib/port/options.js'
import type { BindTarget } from '../lib/runtime/bind-target.js'
import { internalsOf } from '../lib/internals.js'

export type { PortNegotiationOptions } from '../lib/port/options.js'
export { PORT_NEGOTIATION_DEFAULTS } from '../lib/port/options.js'
export type { PortNegotiationError, PortNegotiationReason } from '../lib/port/negotiator.js'

declare module './types.js' {
  interface PyWattNamespace {
    /**
     * Ask the orchestrator for a port (`port_request`) and resolve with the one
     * it granted: `specific`, else the plugin's `port` option, else any port.
     * Rejects with `FST_PYWATT_PORT_NEGOTIATION`. Present when
     * `fastify-pywatt/port-negotiation` is registered.
     */
    negotiatePort?: (specific?: number) => Promise<number>
  }
}

/** Where a module binds when the orchestrator did not name an IP. */
const LOOPBACK = '127.0.0.1'

/**
 * `fastify-pywatt/port-negotiation`: `pywatt.listen()` asks the orchestrator
 * for a port when `init.listen` is not a TCP address (port 0 included: the
 * system picks it, as without the plugin), or when the
 * `port` option asks for a specific one (docs/protocol.md §10.2), then binds it and
 * announces it. A failed negotiation fails `listen()` unless `fallback` is on.
 */
const portNegotiationPlugin: FastifyPluginAsync<PortNegotiationOptions> = async (app, options) => {
  const opts = resolvePortNegotiationOptions(options)
  const channel = app.pywatt.channel
  let negotiator: PortNegotiator | null = null
  if (channel !== null) {
    const n = new PortNegotiator({
      send: (message) => channel.send(message),
      log: app.log,
      timeouts: opts.timeouts,
      threshold: opts.threshold,
      halfOpenAfter: opts.halfOpenAfter
    })
    channel.router.on('port_response', (m) => n.receive(m))
    // A listen() still waiting must not outlive the app.
    app.addHook('preClose', async () => n.close())
    negotiator = n
  }

  const observation = internalsOf(app.pywatt).observation
  const negotiatePort = async (specific?: number): Promise<number> => {
    try {
      if (negotiator === null) throw portNegotiationError('standalone', 'there is no orchestrator to negotiate with (standalone mode)')
      const port = await negotiator.negotiate(specific ?? opts.port)
      observation.current?.portNegotiation('granted')
      return port
    } catch (err) {
      observation.current?.portNegotiation((err as PortNegotiationError).reason)
      throw err
    }
  }

  const resolveBind = async (target: BindTarget): Promise<BindTarget> => {
    if (negotiator === null) {
      app.log.info('standalone: no port negotiation, listening on HOST/PORT')
      return target
    }
    // Port 0 means "any port": the root plugin binds one and announces it, no round trip needed.
    if (target.kind === 'tcp' && opts.port === null) return target
    const host = target.kind === 'tcp' ? target.host : LOOPBACK
    try {
      return { kind: 'tcp', host, port: await negotiatePort() }
    } catch (err) {
      if (!opts.fallback || (err as PortNegotiationError).reason === 'closed') throw err
      app.log.warn({ err, host }, 'port negotiation failed; fallback: binding a port the system picks and announcing it, although the orchestrator never agreed to it')
      return { kind: 'tcp', host, port: 0 }
    }
  }

  internalsOf(app.pywatt).bindResolver = resolveBind
  app.pywatt.negotiatePort = negotiatePort
}

/** The plugin: register it after `fastify-pywatt`, before calling `pywatt.listen()`. */
export const portNegotiation = fp(portNegotiationPlugin, {
  name: 'fastify-pywatt/port-negotiation',
  fastify: '5.x',
  dependencies: ['fastify-pywatt'],
  decorators: { fastify: ['pywatt'] }
})
export default portNegotiation
