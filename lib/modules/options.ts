import { Type, type Static } from '#typebox'

/** The root option `modules`: module-to-module requests (`fastify.pywatt.modules`). */
export const ModulesOptionSchema = Type.Object({
  /** Milliseconds a request waits for its answer, unless the request says otherwise (default 30 000). */
  timeout: Type.Optional(Type.Integer({ minimum: 1 })),
  /**
   * Let requests and answers travel on stdio when no socket channel can take
   * them (default false: only where the orchestrator is known to route
   * `route_to_module` read from stdin).
   */
  stdio: Type.Optional(Type.Boolean()),
  /** Requests waiting for an answer or for a channel at one time (default 10 000). */
  maxPending: Type.Optional(Type.Integer({ minimum: 1 }))
}, { additionalProperties: false })

/** The root option `modules`. */
export type ModulesOption = Static<typeof ModulesOptionSchema>

/** `modules` with its defaults filled in. */
export interface ModulesSettings {
  timeout: number
  stdio: boolean
  maxPending: number
}

/** Fill the defaults of the `modules` option. */
export function modulesSettings (option: ModulesOption | undefined): ModulesSettings {
  return {
    timeout: option?.timeout ?? 30_000,
    stdio: option?.stdio ?? false,
    maxPending: option?.maxPending ?? 10_000
  }
}
