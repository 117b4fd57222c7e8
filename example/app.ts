import Fastify, { type FastifyInstance } from 'fastify'
import pywatt, { pywattLogger, type PyWattOptions } from '../plugins/index.js'
import routeDiscovery from '../plugins/route-discovery.js'
import ipcHttp from '../plugins/ipc-http.js'

interface Item { id: number, name: string }

/**
 * The example module: a health route (from the root plugin), a few JSON routes
 * and one secret in use. `server.ts` starts it; tests build it with their own io.
 */
export async function buildApp (opts: Partial<PyWattOptions> = {}): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: pywattLogger() })
  await app.register(pywatt, { secrets: ['API_KEY'], ...opts })
  await app.register(routeDiscovery)
  await app.register(ipcHttp)

  const items = new Map<number, Item>([[1, { id: 1, name: 'first' }]])
  let nextId = 2
  let rotations = 0
  app.pywatt.secrets.onRotate(['API_KEY'], () => { rotations++ })

  app.get('/hello', async () => ({
    hello: 'world',
    module: app.pywatt.moduleId,
    keyLength: app.pywatt.secrets.get('API_KEY').length,
    rotations
  }))

  app.get('/api/items', async () => [...items.values()])

  app.get<{ Params: { id: number } }>('/api/items/:id', {
    schema: { params: { type: 'object', properties: { id: { type: 'integer' } }, required: ['id'] } }
  }, async (req, reply) => {
    const item = items.get(req.params.id)
    if (item === undefined) return await reply.code(404).send({ error: 'not found' })
    return item
  })

  app.post<{ Body: { name: string } }>('/api/items', {
    schema: {
      body: {
        type: 'object',
        properties: { name: { type: 'string', minLength: 1 } },
        required: ['name'],
        additionalProperties: false
      }
    }
  }, async (req, reply) => {
    const item = { id: nextId++, name: req.body.name }
    items.set(item.id, item)
    return await reply.code(201).send(item)
  })

  app.post('/api/echo', async (req) => req.body)

  return app
}
