import type { EndpointAnnounce } from '../protocol/index.js'

/** Where the gateway sends a request: a module, and the path it sees. */
export interface RouteMatch {
  module: string
  /** The request path (and query) as the module sees it: without its mount. */
  uri: string
}

/** Two modules that announced the same path and method. */
export interface RouteConflict {
  method: string
  path: string
  /** The module that keeps the route (it announced first). */
  kept: string
  other: string
}

interface Entry {
  module: string
  segments: string[]
  methods: Set<string>
  /** Characters of the path before its first parameter or wildcard: the longer, the more specific. */
  weight: number
}

interface ModuleRoutes {
  mount?: string
  order: number
  entries: Entry[]
}

const ANY = new Set(['*', 'ALL', 'ANY'])

function segmentsOf (path: string): string[] {
  return path.split('/').filter((s) => s !== '')
}

function weightOf (path: string): number {
  const dynamic = path.search(/[:*]/)
  return dynamic === -1 ? path.length : dynamic
}

/** A path with its parameter names dropped: `/a/:id` and `/a/:key` are the same route. */
function shapeOf (path: string): string {
  return '/' + segmentsOf(path).map((s) => s.startsWith(':') ? ':' : s).join('/')
}

/** Whether `pattern` (a Fastify path) matches `path` in full, or is a segment prefix of it. */
function matches (pattern: string[], path: string[]): 'exact' | 'prefix' | null {
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i] as string
    if (p === '*') return 'exact'
    const s = path[i]
    if (s === undefined) return null
    if (!p.startsWith(':') && p !== s) return null
  }
  return pattern.length === path.length ? 'exact' : 'prefix'
}

function strip (path: string, mount: string): string | null {
  if (path === mount) return '/'
  return path.startsWith(mount + '/') ? path.slice(mount.length) : null
}

/**
 * The gateway's route table: which module serves a request. A mount wins
 * first (the longest mount under which the path lies; the module sees the
 * path without it); otherwise the module whose announced endpoint matches:
 * an endpoint of the request's method before one of another method, then the
 * longest static prefix, an exact match before a prefix, the module that
 * announced first on a tie.
 */
export class RouteTable {
  readonly #modules = new Map<string, ModuleRoutes>()
  #announces = 0

  /** Declare a module and its mount before it announces. */
  declare (module: string, mount?: string): void {
    this.#modules.set(module, { ...(mount === undefined ? {} : { mount }), order: Number.MAX_SAFE_INTEGER, entries: [] })
  }

  /**
   * Record what `module` announced (replacing its previous announce) and
   * return the conflicts with the other modules' routes.
   */
  announce (module: string, endpoints: readonly EndpointAnnounce[]): RouteConflict[] {
    const routes = this.#modules.get(module) ?? { order: 0, entries: [] }
    routes.order = this.#announces++
    routes.entries = endpoints.map((e) => ({
      module,
      segments: segmentsOf(e.path),
      methods: new Set(e.methods.map((m) => m.toUpperCase())),
      weight: weightOf(e.path)
    }))
    this.#modules.set(module, routes)
    return this.#conflicts(module, endpoints)
  }

  /** Forget a module's announce (it stopped). */
  withdraw (module: string): void {
    const routes = this.#modules.get(module)
    if (routes !== undefined) routes.entries = []
  }

  /** The module for `method` and `uri`, or `null`. */
  match (method: string, uri: string): RouteMatch | null {
    const q = uri.search(/[?#]/)
    const path = q === -1 ? uri : uri.slice(0, q)
    const query = q === -1 ? '' : uri.slice(q)
    let mounted: { module: string, mount: string } | null = null
    for (const [module, routes] of this.#modules) {
      if (routes.mount === undefined || strip(path, routes.mount) === null) continue
      if (mounted === null || routes.mount.length > mounted.mount.length) mounted = { module, mount: routes.mount }
    }
    if (mounted !== null) return { module: mounted.module, uri: (strip(path, mounted.mount) as string) + query }
    const segments = segmentsOf(path)
    let best: { entry: Entry, score: number[] } | null = null
    for (const routes of this.#modules.values()) {
      if (routes.mount !== undefined) continue
      for (const entry of routes.entries) {
        const how = matches(entry.segments, segments)
        if (how === null) continue
        const methodFits = entry.methods.has(method.toUpperCase()) || [...entry.methods].some((m) => ANY.has(m)) || (method === 'HEAD' && entry.methods.has('GET'))
        const score = [methodFits ? 1 : 0, entry.weight, how === 'exact' ? 1 : 0, -routes.order]
        if (best === null || greater(score, best.score)) best = { entry, score }
      }
    }
    return best === null ? null : { module: best.entry.module, uri }
  }

  #conflicts (module: string, endpoints: readonly EndpointAnnounce[]): RouteConflict[] {
    const own = this.#modules.get(module) as ModuleRoutes
    const found: RouteConflict[] = []
    for (const [other, routes] of this.#modules) {
      if (other === module || routes.entries.length === 0 || routes.mount !== own.mount) continue
      const theirs = new Map<string, Set<string>>()
      for (const entry of routes.entries) {
        const shape = shapeOf(entry.segments.join('/'))
        const methods = theirs.get(shape) ?? new Set()
        for (const m of entry.methods) methods.add(m)
        theirs.set(shape, methods)
      }
      for (const e of endpoints) {
        const methods = theirs.get(shapeOf(e.path))
        if (methods === undefined) continue
        for (const method of e.methods) {
          if (!methods.has(method.toUpperCase())) continue
          const kept = routes.order < own.order ? other : module
          found.push({ method: method.toUpperCase(), path: (own.mount ?? '') + e.path, kept, other: kept === module ? other : module })
        }
      }
    }
    return found
  }
}

function greater (a: number[], b: number[]): boolean {
  for (let i = 0; i < a.length; i++) {
    if ((a[i] as number) !== (b[i] as number)) return (a[i] as number) > (b[i] as number)
  }
  return false
}
