import type { ChannelSet } from '../channels/channel-set.js'
import type { SocketChannelName } from '../transport/socket-channel.js'
import type { ReadyCheck } from './readiness.js'

interface Pingable { ping: () => Promise<void> }
interface CachePingable extends Pingable { readonly kind: string }

/** A configured data option: one that names a server (the orchestrator's, a URL, URL secret, host, password secret or server dialect) rather than the embedded default. */
type DataOption = false | { via?: string, url?: string, urlSecret?: string, host?: string, passwordSecret?: string, dialect?: string } | undefined

function names (option: DataOption): boolean {
  return option !== undefined && option !== false && (option.via !== undefined || option.url !== undefined || option.urlSecret !== undefined ||
    option.host !== undefined || option.passwordSecret !== undefined || (option.dialect !== undefined && option.dialect !== 'sqlite'))
}

/**
 * The database and cache checks: a round trip to each server the module was
 * given. The embedded defaults (SQLite, memory) are opened on first use and
 * cannot be down, and an in-memory cache has no server: they are not probed.
 */
export function readinessChecks (data: { readonly db: Pingable, readonly cache: CachePingable }, opts: { db?: DataOption, cache?: DataOption }): ReadyCheck[] {
  const checks: ReadyCheck[] = []
  if (names(opts.db)) checks.push({ name: 'db', check: () => data.db.ping() })
  if (names(opts.cache) && data.cache.kind !== 'memory') checks.push({ name: 'cache', check: () => data.cache.ping() })
  return checks
}

/** A channel the Init blob marked `required` is connected. */
export function channelCheck (channels: ChannelSet, name: SocketChannelName): () => void {
  return () => {
    const state = channels.get(name)?.state ?? 'absent'
    if (state !== 'connected') throw new Error(`the ${name} channel is ${state}`)
  }
}
