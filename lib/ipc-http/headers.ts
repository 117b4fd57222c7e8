import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'

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

/**
 * The client address for `request.ip`: the first `x-forwarded-for` entry, else
 * `x-real-ip`, else loopback (the orchestrator is a local process).
 */
export function remoteAddressOf (headers: IncomingHttpHeaders): string {
  const forwarded = headers['x-forwarded-for']
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0].trim()
  if (first !== undefined && first !== '') return first
  const real = headers['x-real-ip']
  if (typeof real === 'string' && real.trim() !== '') return real.trim()
  return '127.0.0.1'
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
