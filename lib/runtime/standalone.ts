import type { InitBlob } from '../protocol/index.js'
import type { BindTarget } from './bind-target.js'

/** Defaults of standalone mode (documented in the README). */
export const STANDALONE_DEFAULTS = { host: '127.0.0.1', port: 3000, moduleId: 'standalone' } as const

/**
 * Standalone mode runs the module without an orchestrator: when asked to
 * (`PYWATT_STANDALONE=1` or `true`), or when stdin is a terminal (a person
 * started it by hand; an orchestrator always gives a pipe).
 */
export function isStandalone (env: NodeJS.ProcessEnv = process.env, stdinIsTTY = process.stdin.isTTY === true): boolean {
  const flag = env.PYWATT_STANDALONE?.trim().toLowerCase()
  if (flag === '1' || flag === 'true' || flag === 'yes') return true
  if (flag === '0' || flag === 'false' || flag === 'no') return false
  return stdinIsTTY
}

/**
 * The Init blob standalone mode behaves as if it had received, and where it
 * listens: `HOST` (host names allowed here) and `PORT`.
 */
export function standaloneInit (env: NodeJS.ProcessEnv = process.env): { init: InitBlob, bind: BindTarget } {
  const host = env.HOST?.trim() || STANDALONE_DEFAULTS.host
  const portText = env.PORT?.trim() || String(STANDALONE_DEFAULTS.port)
  const port = Number(portText)
  if (!/^\d+$/.test(portText) || port > 65535) throw new TypeError('PORT must be an integer between 0 and 65535')
  const listenHost = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
  return {
    init: {
      orchestrator_api: '',
      module_id: env.PYWATT_MODULE_ID?.trim() || STANDALONE_DEFAULTS.moduleId,
      env: {},
      listen: `${listenHost}:${port}`,
      security_level: 'None'
    },
    bind: { kind: 'tcp', host, port }
  }
}
