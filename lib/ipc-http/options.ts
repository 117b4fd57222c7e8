import { Type } from '#typebox'
import { checkOptions } from '../check-options.js'
import type { TrustProxy } from './headers.js'

const IpcHttpOptionsSchema = Type.Object({
  concurrency: Type.Optional(Type.Integer({ minimum: 1 })),
  drainTimeout: Type.Optional(Type.Integer({ minimum: 0 })),
  dispatcher: Type.Optional(Type.Union([Type.Literal('lean'), Type.Literal('inject')])),
  requestTimeout: Type.Optional(Type.Integer({ minimum: 0 })),
  maxQueued: Type.Optional(Type.Integer({ minimum: 0 })),
  maxEventLoopDelay: Type.Optional(Type.Integer({ minimum: 0 })),
  trustProxy: Type.Optional(Type.Union([Type.Boolean(), Type.Integer({ minimum: 0 }), Type.String(), Type.Array(Type.String())]))
}, { additionalProperties: false })

/** The options of `fastify-pywatt/ipc-http` with their defaults filled in. */
export interface ResolvedIpcHttpOptions {
  concurrency: number
  drainTimeout: number
  dispatcher: 'lean' | 'inject'
  requestTimeout: number
  maxQueued: number
  /** `undefined`: the liveness route's threshold. */
  maxEventLoopDelay: number | undefined
  trustProxy: TrustProxy
}

/** Check the options (`FST_PYWATT_INVALID_OPTIONS` naming the first problem) and fill defaults. */
export function resolveIpcHttpOptions (opts: unknown): ResolvedIpcHttpOptions {
  checkOptions(IpcHttpOptionsSchema, opts, 'ipc-http')
  return {
    // As the Rust SDK's server.
    concurrency: opts.concurrency ?? 100,
    drainTimeout: opts.drainTimeout ?? 10_000,
    dispatcher: opts.dispatcher ?? 'lean',
    requestTimeout: opts.requestTimeout ?? 30_000,
    maxQueued: opts.maxQueued ?? 1_000,
    maxEventLoopDelay: opts.maxEventLoopDelay,
    trustProxy: opts.trustProxy ?? 1
  }
}
