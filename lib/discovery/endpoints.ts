import type { EndpointAnnounce } from '../protocol/index.js'

/**
 * Merge entries of one path into one (docs/protocol.md §6.3): methods upper-case,
 * de-duplicated and sorted; entries sorted by path; `auth` kept when any entry
 * of the path sets it.
 */
export function mergeEndpoints (entries: readonly EndpointAnnounce[]): EndpointAnnounce[] {
  const byPath = new Map<string, { methods: Set<string>, auth?: string }>()
  for (const entry of entries) {
    let item = byPath.get(entry.path)
    if (item === undefined) {
      item = { methods: new Set() }
      byPath.set(entry.path, item)
    }
    for (const method of entry.methods) item.methods.add(method.toUpperCase())
    if (entry.auth != null) item.auth = entry.auth
  }
  return [...byPath.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([path, item]) => {
      const endpoint: EndpointAnnounce = { path, methods: [...item.methods].sort() }
      if (item.auth !== undefined) endpoint.auth = item.auth
      return endpoint
    })
}
