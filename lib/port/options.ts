import { Type, type Static } from '#typebox'
import { checkOptions } from '../check-options.js'

const Port = Type.Integer({ minimum: 1, maximum: 65535 })
const Millis = Type.Integer({ minimum: 1 })

/** The options of `fastify-pywatt/port-negotiation`, checked at registration. */
export const PortNegotiationOptionsSchema = Type.Object({
  /** Ask the orchestrator for this port (and negotiate even when `init.listen` has one). */
  port: Type.Optional(Port),
  /** One timeout per attempt, in milliseconds (default `[3000, 4000, 5000]`, the Rust schedule). */
  timeouts: Type.Optional(Type.Array(Millis, { minItems: 1 })),
  /** The circuit breaker around negotiations. */
  breaker: Type.Optional(Type.Object({
    /** Consecutive failed negotiations that open it (default 5). */
    threshold: Type.Optional(Type.Integer({ minimum: 1 })),
    /** How long it stays open before one try is let through, in milliseconds (default 60 000). */
    halfOpenAfter: Type.Optional(Millis)
  }, { additionalProperties: false })),
  /**
   * When negotiation fails, bind a port of the system's choosing and announce
   * it instead of failing `listen()` (default false).
   */
  fallback: Type.Optional(Type.Boolean())
}, { additionalProperties: false })

/** Options of `fastify-pywatt/port-negotiation`. */
export type PortNegotiationOptions = Static<typeof PortNegotiationOptionsSchema>

/** Defaults of the negotiation schedule and breaker (docs/protocol.md §17). */
export const PORT_NEGOTIATION_DEFAULTS = {
  timeouts: [3000, 4000, 5000],
  threshold: 5,
  halfOpenAfter: 60_000
} as const

/** The options with their defaults, checked. */
export interface ResolvedPortNegotiationOptions {
  port: number | null
  timeouts: number[]
  threshold: number
  halfOpenAfter: number
  fallback: boolean
}

/** Check the options (`FST_PYWATT_INVALID_OPTIONS` naming the first problem) and fill defaults. */
export function resolvePortNegotiationOptions (opts: unknown): ResolvedPortNegotiationOptions {
  checkOptions(PortNegotiationOptionsSchema, opts, 'port-negotiation')
  return {
    port: opts.port ?? null,
    timeouts: [...(opts.timeouts ?? PORT_NEGOTIATION_DEFAULTS.timeouts)],
    threshold: opts.breaker?.threshold ?? PORT_NEGOTIATION_DEFAULTS.threshold,
    halfOpenAfter: opts.breaker?.halfOpenAfter ?? PORT_NEGOTIATION_DEFAULTS.halfOpenAfter,
    fallback: opts.fallback ?? false
  }
}
