import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'
import proxyAddr from '@fastify/proxy-addr'

/**
 * Headers that describe one connection, not the message (RFC 9110 §7.6.1),
 * `proxy-*` with them: they make no sense over IPC in either direction, and an
 * orchestrator that copied one onto its own connection would be misled.
 */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade'])

function isHopByHop (lower: string): boolean {
  return HOP_BY_HOP.has(lower) || lower.startsWith('proxy-')
}

/** Request headers for Fastify: lower-case names, hop-by-hop headers dropped. */
export function requestHeaders (headers: Readonly<Record<string, string>>): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {}
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase()
    // content-length is recomputed from the decoded body: a stale one would stall or truncate it.
    if (!isHopByHop(lower) && lower !== 'content-length') out[lower] = value
  }
  return out
}

/** Which hops of `x-forwarded-for` to believe, as Fastify's `trustProxy`. */
export type TrustProxy = boolean | number | string | string[]

/** Whether hop `i` (0 = the orchestrator, 1 = the last `x-forwarded-for` entry, …) at `addr` is a trusted proxy. */
export type TrustFn = (addr: string, i: number) => boolean

/** The trust function of a `trustProxy` setting, read as Fastify reads its own. */
export function compileTrust (trust: TrustProxy): TrustFn {
  if (trust === true) return () => true
  if (trust === false) return () => false
  if (typeof trust === 'number') return (_addr, i) => i < trust
  const listed = proxyAddr.compile(typeof trust === 'string' ? trust.split(',').map((a) => a.trim()) : trust)
  // The orchestrator is the proxy every tunnelled request comes through: a list names the ones behind it.
  return (addr, i) => i === 0 || listed(addr, i)
}

// The orchestrator runs on this host: the address of the "socket" a tunnelled request came on.
const ORCHESTRATOR = '127.0.0.1'

/**
 * The client address for `request.ip`. The orchestrator is the proxy in front
 * of the module, so the entries of `x-forwarded-for` are walked from the
 * right, as Fastify does behind a proxy: the first address that is not a
 * trusted hop is the client. A client can prepend any entry it likes, so the
 * default (`1`: the orchestrator alone) takes the entry the orchestrator
 * added, the last one. Without the header, `x-real-ip` stands for it.
 */
export function remoteAddressOf (headers: IncomingHttpHeaders, trust: TrustFn): string {
  const forwarded = headers['x-forwarded-for']
  const list = (Array.isArray(forwarded) ? forwarded.join(',') : forwarded)?.split(',').map((a) => a.trim()).filter((a) => a !== '') ?? []
  if (list.length === 0) {
    const real = headers['x-real-ip']
    if (typeof real === 'string' && real.trim() !== '') list.push(real.trim())
  }
  const hops = [ORCHESTRATOR, ...list.reverse()]
  const last = hops.length - 1
  for (const [i, addr] of hops.entries()) {
    // Every hop trusted: the furthest one is all there is to go on.
    if (i === last || !trust(addr, i)) return addr
  }
  return ORCHESTRATOR
}

/**
 * Response headers for the wire: lower-case names, hop-by-hop headers dropped,
 * one string per name (the protocol's map cannot repeat a name). Several
 * values — `set-cookie` is the usual case — are combined with `, ` as RFC 9110
 * §5.3 allows; the `; ` separated attributes of each cookie stay intact.
 */
export function responseHeaders (headers: OutgoingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase()
    if (value === undefined || isHopByHop(lower)) continue
    out[lower] = Array.isArray(value) ? value.join(', ') : String(value)
  }
  return out
}
