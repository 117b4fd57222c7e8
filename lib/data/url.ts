import { registerSecret } from '../logging/registry.js'

/** A database or cache URL, split and percent-decoded. */
export interface ServiceUrl<K extends string> {
  /** What the scheme maps to (`postgres`, `redis`, …). */
  kind: K
  /** The scheme as written, with its colon (`rediss:`). */
  protocol: string
  /** Host without IPv6 brackets; `''` when the URL has none. */
  host: string
  port?: number
  user?: string
  password?: string
  /** The path without its leading `/` (a database name, a Redis db number). */
  path: string
  /** Host and path as one string, for file-like URLs (`sqlite://sub/x.db` → `sub/x.db`). */
  location: string
  query: URLSearchParams
}

/**
 * Parse a service URL with the WHATWG parser. The password is registered for
 * scrubbing as written and decoded before anything can fail on it, and no
 * error repeats the URL: the parser's own message carries the input.
 */
export function parseServiceUrl<K extends string> (url: string, schemes: Readonly<Record<string, K>>, fail: (message: string) => Error, label: string): ServiceUrl<K> {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw fail(`the ${label} URL cannot be parsed`)
  }
  const kind = schemes[u.protocol]
  if (kind === undefined) throw fail(`unsupported URL scheme '${u.protocol}'`)
  const decode = (part: string, what: string): string => {
    try {
      return decodeURIComponent(part)
    } catch {
      throw fail(`the ${what} in the URL is not valid percent-encoding`)
    }
  }
  const out: ServiceUrl<K> = {
    kind,
    protocol: u.protocol,
    host: '',
    path: '',
    location: '',
    query: u.searchParams
  }
  if (u.password !== '') {
    registerSecret(u.password)
    out.password = decode(u.password, 'password')
    registerSecret(out.password)
  }
  out.host = decode(u.hostname.replace(/^\[|\]$/g, ''), 'host')
  if (u.port !== '') out.port = Number(u.port)
  if (u.username !== '') out.user = decode(u.username, 'user name')
  out.path = decode(u.pathname.slice(1), 'path')
  out.location = decode(u.host + u.pathname, 'path')
  return out
}

/**
 * The settings of a URL and of explicit options together, explicit fields
 * winning; an explicit password is registered for scrubbing like a URL's.
 */
export function mergeUrlOptions<O extends { url?: string, password?: string }, P extends object> (options: O, parse: (url: string) => P): P & Omit<O, 'url'> {
  const merged: Record<string, unknown> = options.url === undefined ? {} : { ...parse(options.url) }
  for (const [k, v] of Object.entries(options)) {
    if (v !== undefined && k !== 'url') merged[k] = v
  }
  if (options.password !== undefined && options.password !== '') registerSecret(options.password)
  return merged as P & Omit<O, 'url'>
}
