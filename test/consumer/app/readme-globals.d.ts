// The names README's code blocks use without declaring them. Each block is
// checked as a file of its own, as if it followed the blocks before it: the
// plugins are in scope under the names README imports them as, and so in the
// program (a `declare module 'fastify-pywatt/jwt'` block augments a module the
// app imports elsewhere). A block that declares one of these names shadows it.
import type { FastifyInstance } from 'fastify'
import type pywattPlugin from 'fastify-pywatt'
import type ipcHttpPlugin from 'fastify-pywatt/ipc-http'
import type jwtPlugin from 'fastify-pywatt/jwt'
import type portNegotiationPlugin from 'fastify-pywatt/port-negotiation'
import type routeDiscoveryPlugin from 'fastify-pywatt/route-discovery'

declare global {
  const app: FastifyInstance
  const pywatt: typeof pywattPlugin
  const routeDiscovery: typeof routeDiscoveryPlugin
  const ipcHttp: typeof ipcHttpPlugin
  const jwt: typeof jwtPlugin
  const portNegotiation: typeof portNegotiationPlugin
  // Data layer: the id of a row and the loader behind the cached list.
  const id: number
  function loadItems (): Promise<Array<{ id: number, name: string }>>
  // Module-to-module requests: the stock module's levels.
  const levels: Map<number, number>
}
