import t from 'tap'
import { Type } from '@sinclair/typebox'
import type { Modules } from '../../plugins/index.js'

// Compile-time checks (tsc --noEmit -p . type-checks this file): the types
// that modules.request() and modules.handle() infer from their schemas.
const Add = { request: Type.Object({ a: Type.Integer(), b: Type.Integer() }), answer: Type.Object({ sum: Type.Integer() }) }

function same<A, B> (..._proof: A extends B ? (B extends A ? [] : [never]) : [never]): void {}

export function typed (modules: Modules): void {
  modules.handle('add', { schema: Add }, async (payload, ctx) => {
    same<typeof payload, { a: number, b: number }>()
    same<typeof ctx.source, string>()
    same<typeof ctx.traceparent, string | undefined>()
    return { sum: payload.a + payload.b }
  })
  // @ts-expect-error the answer does not match the answer schema
  modules.handle('add2', { schema: Add }, async () => ({ sum: 'x' }))
  modules.handle('*', async (payload, ctx) => {
    same<typeof payload, unknown>()
    return ctx.endpoint
  })

  const sum = modules.request('b', 'add', { a: 1, b: 2 }, { schema: Add, timeout: 100 })
  same<typeof sum, Promise<{ sum: number }>>()
  // @ts-expect-error the payload does not match the request schema
  modules.request('b', 'add', { a: 'one', b: 2 }, { schema: Add })
  const loose = modules.request('b', 'anything', new Uint8Array(2), { signal: AbortSignal.timeout(10) })
  same<typeof loose, Promise<unknown>>()
  const answerOnly = modules.request('b', 'add', 'free', { schema: { answer: Add.answer } })
  same<typeof answerOnly, Promise<{ sum: number }>>()
  const res = modules.fetch('b', '/api/items', { method: 'POST', body: 'x', timeout: 10 })
  same<typeof res, Promise<Response>>()
  Promise.allSettled([sum, loose, answerOnly, res]).catch(() => {})
}

t.pass('type-checked by tsc')
