/**
 * The JSON schemas of the example's item routes, in a module of their own so
 * that the cold-start references in bench/fixtures compile exactly the same
 * ones without loading the example (or fastify-pywatt).
 */

/** `GET /api/items/:id`: an integer id. */
export const itemParams = {
  type: 'object',
  properties: { id: { type: 'integer' } },
  required: ['id']
} as const

/** `POST /api/items`: a non-empty name and nothing else. */
export const newItemBody = {
  type: 'object',
  properties: { name: { type: 'string', minLength: 1 } },
  required: ['name'],
  additionalProperties: false
} as const
