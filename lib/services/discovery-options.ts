import { Type, type Static } from '#typebox'

/** Name of the variable (in `init.env`, then the process environment) that holds the discovery address. */
export const DISCOVERY_ADDRESS_VARIABLE = 'PYWATT_DISCOVERY_ADDRESS'

/** `discovery` option of the root plugin: where `fastify.pywatt.services` registers and discovers providers. */
export const DiscoveryOptionSchema = Type.Object({
  /** `host:port` of the discovery endpoint (default: `PYWATT_DISCOVERY_ADDRESS` of `init.env`, then of the process environment). */
  address: Type.Optional(Type.String({ minLength: 1 })),
  /** Time one attempt (connect, request and reply) may take (default 5 000 ms). */
  timeout: Type.Optional(Type.Integer({ minimum: 1 })),
  /** Attempts after the first one that failed (default 2). */
  retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 20 }))
}, { additionalProperties: false })

/** The `discovery` option. */
export type DiscoveryOption = Static<typeof DiscoveryOptionSchema>

/** The discovery settings with every default filled in. */
export interface DiscoverySettings {
  /** `null` when nothing names an endpoint: every call then rejects. */
  address: string | null
  timeout: number
  retries: number
  /** First delay between two attempts, doubled after each (capped at {@link maxDelay}). */
  initialDelay: number
  maxDelay: number
}

/** Fill the defaults of the `discovery` option. */
export function discoverySettings (option: DiscoveryOption | undefined, initEnv: Readonly<Record<string, string>>, processEnv: NodeJS.ProcessEnv): DiscoverySettings {
  const fromEnv = (value: string | undefined): string | null => value === undefined || value === '' ? null : value
  return {
    address: option?.address ?? fromEnv(initEnv[DISCOVERY_ADDRESS_VARIABLE]) ?? fromEnv(processEnv[DISCOVERY_ADDRESS_VARIABLE]),
    timeout: option?.timeout ?? 5_000,
    retries: option?.retries ?? 2,
    initialDelay: 100,
    maxDelay: 2_000
  }
}
