import { parseListenAddress } from '../protocol/index.js'

/** Where the module's HTTP server binds. */
export type BindTarget =
  | { kind: 'tcp', host: string, port: number }
  | { kind: 'unix', path: string }

/**
 * The bind target for `init.listen`. Rust binds 127.0.0.1 whatever IP it is
 * given; we bind the IP the orchestrator named, since that is what it will dial.
 */
export function bindTargetOf (listen: string): BindTarget {
  const address = parseListenAddress(listen)
  return address.kind === 'tcp'
    ? { kind: 'tcp', host: address.host, port: address.port }
    : { kind: 'unix', path: address.path }
}
