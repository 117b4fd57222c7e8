import { Type } from '@sinclair/typebox'

/**
 * The stock module's `level` endpoint, shared by the module that serves it
 * and the modules that call it: both sides check payloads against it, and the
 * caller's answer is typed from it.
 */
export const stockLevel = {
  request: Type.Object({ id: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }),
  answer: Type.Object({ id: Type.Integer(), inStock: Type.Integer({ minimum: 0 }) })
}
