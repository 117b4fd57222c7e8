import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { EXIT } from '../lib/lifecycle/exit-codes.js'
import { exitProcess } from '../lib/lifecycle/process-exit.js'
import { alreadyRefused } from '../lib/lifecycle/refused.js'
import { closeOnSignals } from '../lib/lifecycle/signals.js'
import { pywattLogger, type PyWattLoggerOptions } from '../lib/logging/logger.js'
import type { IpcHttpOptions } from './ipc-http.js'
import type { PyWattJwtOptions } from './jwt.js'
import type { PyWattMetricsOptions } from './metrics.js'
import type { PortNegotiationOptions } from '../lib/port/options.js'
import type { PyWattOptions } from './types.js'
import type { Static, TObject } from '#typebox'

/** Options of {@link runModule}. */
export interface RunModuleOptions<S extends TObject = TObject> {
  /**
   * The module's typed configuration (the root plugin's `config`): the build
   * function's `app.pywatt.config` has the schema's type.
   */
  config?: S
  /** The root plugin's options; `config` is given above. */
  pywatt?: Omit<PyWattOptions, 'config'>
  /** Fastify's own server options; its logger is always `pywattLogger()`. */
  fastify?: Omit<FastifyServerOptions, 'logger' | 'loggerInstance'>
  /** Options of that logger. */
  logger?: PyWattLoggerOptions
  /** Route discovery (default on). */
  routeDiscovery?: boolean
  /** HTTP over IPC: `true` for its defaults, its options, or `false` (default on). */
  ipcHttp?: boolean | IpcHttpOptions
  /** Port negotiation (default on: it asks for a port only when `init.listen` has none). */
  portNegotiation?: boolean | PortNegotiationOptions
  /** JWT auth, registered before the routes so that `auth: 'jwt'` protects them (default off). */
  jwt?: boolean | PyWattJwtOptions
  /** `GET /metrics` (default off). */
  metrics?: boolean | PyWattMetricsOptions
  /** First SIGTERM/SIGINT stops the module as `shutdown` does, a second exits 3 (default on). */
  signals?: boolean
}

/** A Fastify app whose `fastify.pywatt.config` has the type `C`. */
export type ConfiguredApp<C> = FastifyInstance & { pywatt: { readonly config: Readonly<C> } }

/** The app as the build function gets it: `fastify.pywatt` (its `config` typed) and the sub-plugins are there. */
export type ModuleBuilder<C = {}> = (app: ConfiguredApp<C>) => void | Promise<void>

/** A sub-plugin's options: `undefined` when it is not wanted, `{}` for its defaults. */
function chosen<T extends object> (option: boolean | T | undefined, byDefault: boolean): Partial<T> | undefined {
  if (option === undefined) return byDefault ? {} : undefined
  if (typeof option === 'boolean') return option ? {} : undefined
  return option
}

/**
 * Start a module in one call: a Fastify app logging through `pywattLogger()`,
 * the root plugin, the sub-plugins the options name, then `build(app)` for the
 * module's routes, then `listen` and `announce`, and the signal handlers. A
 * start that fails (options, the build, the listener) logs one fatal line and
 * exits 2, the code the orchestrator reads as "refused to start". Works the
 * same under an orchestrator, under `pywatt-dev` and standalone.
 */
export async function runModule<S extends TObject = TObject<{}>> (build: ModuleBuilder<Static<S>>, options: RunModuleOptions<S> = {}): Promise<ConfiguredApp<Static<S>>> {
  // The root plugin fills `config` before the build runs, so the app is the typed one from here on.
  const app = Fastify({ ...options.fastify, loggerInstance: pywattLogger(options.logger) }) as FastifyInstance as ConfiguredApp<Static<S>>
  try {
    // Loaded on demand: a module pays only for the sub-plugins it asks for.
    const { pywatt } = await import('./index.js')
    await app.register(pywatt, options.config === undefined ? options.pywatt ?? {} : { ...options.pywatt, config: options.config })
    if (options.routeDiscovery !== false) await app.register((await import('./route-discovery.js')).routeDiscovery)
    const ipcHttp = chosen(options.ipcHttp, true)
    if (ipcHttp !== undefined) await app.register((await import('./ipc-http.js')).ipcHttp, ipcHttp)
    const port = chosen(options.portNegotiation, true)
    if (port !== undefined) await app.register((await import('./port-negotiation.js')).portNegotiation, port)
    const jwt = chosen(options.jwt, false)
    if (jwt !== undefined) await app.register((await import('./jwt.js')).jwt, jwt)
    const metrics = chosen(options.metrics, false)
    if (metrics !== undefined) await app.register((await import('./metrics.js')).metrics, metrics)
    await build(app)
  } catch (err) {
    return await refuse(app, options, err, 'refusing to start: the module could not be built')
  }
  try {
    await app.pywatt.listen()
  } catch (err) {
    return await refuse(app, options, err, 'refusing to start: the module cannot listen')
  }
  if (options.signals !== false) closeOnSignals(app)
  return app
}

async function refuse (app: FastifyInstance, options: RunModuleOptions<TObject>, err: unknown, why: string): Promise<never> {
  const reported = alreadyRefused(err)
  if (!reported) app.log.fatal({ err }, why)
  // Whatever was opened (database pools, channels) is closed before the exit; a close that fails changes nothing.
  await app.close().catch(() => {})
  if (reported) throw err
  // As the root plugin exits: through its `io.exit` when it was given one (tests, embedding), and not at all with `exitOnStop: false`.
  if (options.pywatt?.exitOnStop !== false) (options.pywatt?.io?.exit ?? exitProcess)(EXIT.REFUSED)
  throw err
}
