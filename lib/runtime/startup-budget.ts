/** Kept back from Fastify's `pluginTimeout`, so that the plugin's own refusal comes first. */
export const STARTUP_MARGIN_MS = 500

/**
 * The time the root plugin's registration may take. avvio fails a plugin that
 * outlives Fastify's `pluginTimeout` with a bare stack (exit 1); every wait
 * of the start (Init line, required channels, startup secrets) is cut to end
 * before that, so a missing secret is the documented refusal (exit 2).
 */
export class StartupBudget {
  /** Fastify's `pluginTimeout` (0: none). */
  readonly pluginTimeout: number
  readonly #deadline: number

  constructor (pluginTimeout: number, now = Date.now()) {
    this.pluginTimeout = pluginTimeout
    this.#deadline = pluginTimeout > 0 ? now + Math.max(pluginTimeout - STARTUP_MARGIN_MS, pluginTimeout / 2) : Infinity
  }

  /** `wanted` milliseconds, or what is left of the budget if that is less (at least 1). */
  clamp (wanted: number): number {
    return Math.max(1, Math.min(wanted, this.#deadline - Date.now()))
  }

  /** Whether a wait of `wanted` ms would be cut by the budget. */
  cuts (wanted: number): boolean {
    return this.#deadline - Date.now() < wanted
  }
}
