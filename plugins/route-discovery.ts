import type { FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { internalsOf } from '../lib/internals.js'

/**
 * `fastify-pywatt/route-discovery`: announce exactly what Fastify serves.
 *
 * The routes come from the table the root plugin keeps through `onRoute`, so
 * prefixes and nested plugins are exact, and every route declared after the
 * root plugin counts, whenever this one is registered.
 *
 * A route is announced with `auth: 'jwt'` when marked so in its config, or
 * when its own `onRequest`, `preValidation` or `preHandler` hooks include
 * `fastify.pywatt.jwt.authenticate` (a hook added with `addHook` to a whole
 * plugin is not seen).
 */
const routeDiscoveryPlugin: FastifyPluginAsync = async (app) => {
  const internals = internalsOf(app.pywatt)
  internals.endpointSource = () => internals.routeTable.endpoints(internals.builtinEndpoints)
}

export const routeDiscovery = fp(routeDiscoveryPlugin, {
  name: 'fastify-pywatt/route-discovery',
  fastify: '5.x',
  dependencies: ['fastify-pywatt'],
  decorators: { fastify: ['pywatt'] }
})
export default routeDiscovery
export { announcePath } from '../lib/discovery/route-table.js'
