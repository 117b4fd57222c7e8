import { isIPv6 } from 'node:net'

/**
 * `init.listen` and `tcp_channel.address` follow Rust's `SocketAddr` parser
 * (docs/protocol.md §2.4): only a numeric IPv4 `a.b.c.d:port` or a bracketed IPv6
 * `[addr]:port` is a socket address. Host names are not. For `listen`, Rust's
 * untagged `ListenAddress` then treats every other string as a Unix socket path,
 * so `localhost:4102` is a path, not a TCP address.
 */

/** Where the module was told to listen. `text` is the original string, echoed in `announce`. */
export type ListenAddress =
  | { kind: 'tcp', host: string, port: number, text: string }
  | { kind: 'unix', path: string, text: string }

/** A parsed socket address. `host` has no brackets (ready for `listen({ host })`). */
export interface SocketAddress {
  host: string
  port: number
}

const V4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3}):(\d+)$/
const V6 = /^\[([^\]%]+)(?:%(\d+))?\]:(\d+)$/

/** Classify a `listen` string the way Rust's untagged `ListenAddress` does. */
export function parseListenAddress (text: string): ListenAddress {
  const addr = parseSocketAddress(text)
  return addr === null
    ? { kind: 'unix', path: text, text }
    : { kind: 'tcp', host: addr.host, port: addr.port, text }
}

/** Whether `text` parses as a Rust `SocketAddr` (numeric IP and port, no host names). */
export function isSocketAddress (text: string): boolean {
  return parseSocketAddress(text) !== null
}

/** Parse a Rust `SocketAddr` string; `null` when it is not one. */
export function parseSocketAddress (text: string): SocketAddress | null {
  const v4 = V4.exec(text)
  if (v4 !== null) {
    for (let i = 1; i <= 4; i++) {
      const octet = v4[i] as string
      // Rust rejects octal-looking octets such as `010`.
      if ((octet.length > 1 && octet[0] === '0') || Number(octet) > 255) return null
    }
    const port = parsePort(v4[5] as string)
    return port === null ? null : { host: text.slice(0, text.lastIndexOf(':')), port }
  }
  const v6 = V6.exec(text)
  if (v6 !== null) {
    const ip = v6[1] as string
    const scope = v6[2]
    if (!isIPv6(ip)) return null
    // Rust accepts a numeric scope id (u32) only; interface names are rejected.
    if (scope !== undefined && Number(scope) > 0xffffffff) return null
    const port = parsePort(v6[3] as string)
    if (port === null) return null
    return { host: scope === undefined ? ip : `${ip}%${scope}`, port }
  }
  return null
}

/** Render host and port as a `SocketAddr` string, bracketing IPv6 hosts. */
export function formatSocketAddress (host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}

function parsePort (digits: string): number | null {
  // Leading zeros are fine for Rust's port parser; only the value must fit u16.
  const port = Number(digits)
  return port <= 65535 ? port : null
}
