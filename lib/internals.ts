import type { EndpointAnnounce } from './protocol/index.js'
import type { AuthHooks, RouteTable } from './discovery/route-table.js'
import type { BindTarget } from './runtime/bind-target.js'
import type { Database } from './db/database.js'
import type { Observation } from './observe.js'
import type { LoopDelayWatch } from './health/routes.js'

/**
 * Where the root plugin keeps the state it shares with its sub-plugins, on
 * `fastify.pywatt`. The entry points share one copy of this module (a chunk of
 * the build); `Symbol.for` keeps the key the same for any other copy too.
 */
export const kInternals: unique symbol = Symbol.for('fastify-pywatt.internals') as never

/** How a sub-plugin that fetches a secret at start (jwt) fails the start as the root plugin does. */
export interface StartupControl {
  /** The root plugin's `secretTimeout`, before a sub-plugin cuts it to its own start budget. */
  readonly secretTimeout: number
  /** Log `err` as the reason the module refuses to start, exit 2, and return `err` to throw. */
  refuse: (err: Error, why: string) => Error
}

/** The root plugin's state shared with the sub-plugins (not public API). */
export interface Internals {
  /** Every route declared after the root plugin, to detect ones discovery or jwt missed. */
  readonly routeTable: RouteTable
  /** Endpoints the root plugin adds itself (health). */
  readonly builtinEndpoints: EndpointAnnounce[]
  /** Hook functions that protect a route (jwt's `authenticate`), for route discovery. */
  readonly authHooks: AuthHooks
  readonly startup: StartupControl
  /** Set by route discovery: the endpoints to announce. */
  endpointSource: (() => EndpointAnnounce[]) | null
  /** Set by port negotiation: replaces the bind target before `listen()` binds. */
  bindResolver: ((target: BindTarget) => Promise<BindTarget>) | null
  /**
   * Set by the liveness route: the event loop's recent worst delay and `/health`'s
   * threshold, so HTTP over IPC sheds load on the signal `/health` reports.
   */
  loopDelay: LoopDelayWatch | null
  /** Set by HTTP over IPC: its requests running and waiting, read by metrics at scrape time. */
  ipcHttpLoad: { readonly inFlight: number, readonly queued: number } | null
  /** The app's observation point: the metrics plugin sets its observer there (secrets, rotations, port, db, jwt). */
  readonly observation: Observation
  /** Set by the data wiring when `fastify.pywatt.db` is opened (lazily for the embedded SQLite): read without opening it. */
  database: Database | null
}

/** The shared state on a `fastify.pywatt` (the namespace declares it under {@link kInternals}). */
export function internalsOf (ns: { readonly [kInternals]: Internals }): Internals {
  return ns[kInternals]
}
