import type { RouteOptions } from 'fastify'
import type { EndpointAnnounce } from '../protocol/index.js'
import { mergeEndpoints } from './endpoints.js'

/** One route as Fastify declared it, reduced to what announcing needs. */
export interface SeenRoute {
  url: string
  methods: string[]
  auth?: 'jwt'
  /** `config.pywatt.announce === false` or `schema.hide`. */
  hidden: boolean
}

/** Hook functions that protect a route, with the `auth` a route using one is announced with. */
export type AuthHooks = Map<unknown, 'jwt'>

/** The route-level hooks that run before the handler, where an auth hook can refuse a request. */
const GUARD_HOOKS = ['onRequest', 'preValidation', 'preHandler'] as const

interface RouteLike {
  method: RouteOptions['method']
  url: string
  handler?: unknown
  config?: { pywatt?: { announce?: boolean, auth?: 'jwt' } }
  schema?: unknown
  onRequest?: unknown
  preValidation?: unknown
  preHandler?: unknown
}

/** `:id(^\d+)` → `:id`: the regex is Fastify's business, the orchestrator wants the name. */
export function announcePath (url: string): string {
  let out = ''
  let i = 0
  while (i < url.length) {
    const ch = url[i]
    if (ch === '(' && out.lastIndexOf(':') > out.lastIndexOf('/')) {
      let depth = 0
      for (; i < url.length; i++) {
        if (url[i] === '\\') { i++; continue }
        if (url[i] === '(') depth++
        else if (url[i] === ')' && --depth === 0) break
      }
      i++
      continue
    }
    out += ch
    i++
  }
  return out
}

/**
 * Collects routes from `onRoute`. Fastify adds a HEAD route for every GET
 * (`exposeHeadRoutes`); it fires `onRoute` right after the GET with the same
 * handler, which is how it is told apart from a HEAD the app declared (Fastify
 * refuses a declared HEAD once it added its own for that path).
 */
export class RouteTable {
  readonly routes: SeenRoute[] = []
  #lastGet: { handler: unknown } | null = null
  readonly #authHooks: ReadonlyMap<unknown, 'jwt'>

  /**
   * @param authHooks read when each route is added (not copied), so a hook
   *   registered after the table was made is still recognised.
   */
  constructor (authHooks: ReadonlyMap<unknown, 'jwt'> = new Map()) {
    this.#authHooks = authHooks
  }

  /** The `onRoute` hook body. */
  add (route: RouteLike): void {
    const methods = (Array.isArray(route.method) ? route.method : [route.method]).map((m) => String(m).toUpperCase())
    // A prefixed '/' route gets two (`/v1` and `/v1/`); the URL may differ, the
    // handler identity and the immediate succession do not.
    if (methods.length === 1 && methods[0] === 'HEAD' && this.#lastGet !== null &&
      this.#lastGet.handler === route.handler) {
      return
    }
    this.#lastGet = methods.includes('GET') ? { handler: route.handler } : null
    const pywatt = route.config?.pywatt
    const seen: SeenRoute = {
      url: route.url,
      methods,
      hidden: pywatt?.announce === false || (route.schema as { hide?: unknown } | undefined)?.hide === true
    }
    const auth = pywatt?.auth === 'jwt' ? 'jwt' : this.#hookAuth(route)
    if (auth !== undefined) seen.auth = auth
    this.routes.push(seen)
  }

  /** The `auth` of the first auth hook among the route's own guard hooks. */
  #hookAuth (route: RouteLike): 'jwt' | undefined {
    for (const name of GUARD_HOOKS) {
      const hooks = route[name]
      for (const hook of Array.isArray(hooks) ? hooks : [hooks]) {
        const auth = this.#authHooks.get(hook)
        if (auth !== undefined) return auth
      }
    }
    return undefined
  }

  /** The announce entries: hidden routes left out, merged per path, sorted. */
  endpoints (extra: readonly EndpointAnnounce[] = []): EndpointAnnounce[] {
    const entries: EndpointAnnounce[] = [...extra]
    for (const route of this.routes) {
      if (route.hidden) continue
      const entry: EndpointAnnounce = { path: announcePath(route.url), methods: route.methods }
      if (route.auth !== undefined) entry.auth = route.auth
      entries.push(entry)
    }
    return mergeEndpoints(entries)
  }
}
