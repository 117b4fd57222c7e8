import type { EndpointAnnounce } from '../protocol/index.js'

/**
 * Merge the entries of one path and one `auth` into one entry (docs/protocol.md §6.3): methods
 * upper-case, de-duplicated and sorted. A path whose methods differ in `auth`
 * keeps one entry per `auth`, so that a public GET beside a protected DELETE is
 * not announced as protected. Entries are sorted by path, then by `auth` (none
 * first), so the announce does not depend on declaration order.
 */
export function mergeEndpoints (entries: readonly EndpointAnnounce[]): EndpointAnnounce[] {
  const byKey = new Map<string, { path: string, auth?: string, methods: Set<string> }>()
  for (const entry of entries) {
    const auth = entry.auth
    const key = JSON.stringify([entry.path, auth ?? null])
    let item = byKey.get(key)
    if (item === undefined) {
      item = auth === undefined ? { path: entry.path, methods: new Set() } : { path: entry.path, auth, methods: new Set() }
      byKey.set(key, item)
    }
    for (const method of entry.methods) item.methods.add(method.toUpperCase())
  }
  return [...byKey.values()]
    .sort((a, b) => compare(a.path, b.path) || compareAuth(a.auth, b.auth))
    .map(({ path, auth, methods }) => {
      const endpoint: EndpointAnnounce = { path, methods: [...methods].sort() }
      if (auth !== undefined) endpoint.auth = auth
      return endpoint
    })
}

function compare (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function compareAuth (a: string | undefined, b: string | undefined): number {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? -1 : 1
  return compare(a, b)
}
