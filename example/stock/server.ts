import { runModule } from '../../plugins/index.js'
import { stockLevel } from './contract.js'

// The second module of the example (npm start runs both under pywatt-dev,
// which mounts this one at /stock): it keeps stock levels, answers the items
// module's `level` requests, and reads items from the items module's own HTTP
// route.
const levels = new Map<number, number>()

await runModule(async (app) => {
  const { modules } = app.pywatt

  modules.handle('level', { schema: stockLevel }, ({ id }) => ({ id, inStock: levels.get(id) ?? 0 }))

  app.put<{ Params: { id: number }, Body: { inStock: number } }>('/:id', {
    schema: {
      params: { type: 'object', properties: { id: { type: 'integer', minimum: 1 } }, required: ['id'] },
      body: { type: 'object', properties: { inStock: { type: 'integer', minimum: 0 } }, required: ['inStock'], additionalProperties: false }
    }
  }, async (req) => {
    levels.set(req.params.id, req.body.inStock)
    return { id: req.params.id, inStock: req.body.inStock }
  })

  // The item itself comes from the items module's GET /api/items/:id, through the orchestrator.
  app.get<{ Params: { id: number } }>('/:id', {
    schema: { params: { type: 'object', properties: { id: { type: 'integer', minimum: 1 } }, required: ['id'] } }
  }, async (req, reply) => {
    const { traceparent } = req.headers
    const res = await modules.fetch('items', `/api/items/${req.params.id}`, typeof traceparent === 'string' ? { traceparent } : {})
    if (res.status === 404) return await reply.code(404).send({ error: 'no such item' })
    const item = await res.json() as { id: number, name: string }
    return { ...item, inStock: levels.get(item.id) ?? 0 }
  })
}, { pywatt: { db: false } })
