import type { FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { RouteTable } from '../lib/discovery/route-table.js'
import { internalsOf } from '../lib/internals.js'

/**
 * `fastify-pywatt/route-discovery`: announce exactly what Fastify serves.
 *
 * Routes are read from Fastify's own route table through `onRoute`, so prefixes
 * and nested plugins are exact. `onRoute` only sees routes declared after it
 * exists: `await` this registration right after `pywatt`. Routes the root
 * plugin saw but this one did not are named in a warning at `onReady`.
 *
 * A route is announced with `auth: 'jwt'` when marked so in its config, or
 * when its own `onRequest`, `preValidation` or `preHandler` hooks include
 * `fastify.pywatt.jwt.authenticate` (in either registration order of the two
 * plugins; a hook added with `addHook` to a whole plugin is not seen).
 */
const routeDiscoveryPlugin: FastifyPluginAsync = async (app) => {
  const internals = internalsOf(app.pywatt)
  const table = new RouteTable(internals.authHooks)
  const before = internals.routeTable.routes.length
  app.addHook('onRoute', (route) => table.add(route))
  internals.endpointSource = () => table.endpoints(internals.builtinEndpoints)
  app.addHook('onReady', async () => {
    const missed = internals.routeTable.routes.slice(0, before).filter((r) => !r.hidden)
    if (missed.length > 0) {
      app.log.warn({ routes: missed.map((r) => `${r.methods.join(',')} ${r.url}`) },
        'routes declared before fastify-pywatt/route-discovery was registered are not announced; await its registration before declaring routes')
    }
  })
}

export const routeDiscovery = fp(routeDiscoveryPlugin, {
  name: 'fastify-pywatt/route-discovery',
  fastify: '5.x',
  dependencies: ['fastify-pywatt'],
  decorators: { fastify: ['pywatt'] }
})
export default routeDiscovery
export { announcePath } from '../lib/discovery/route-table.js'
