import { ERR_PYWATT_CHANNEL_CONFIG } from '../errors.js'
import { parseSocketAddress, type InitBlob, type SocketAddress } from '../protocol/index.js'
import type { ChannelsOption } from './options.js'
import type { ChannelTarget, ReconnectOptions, BreakerOptions, SocketChannelName } from '../transport/socket-channel.js'

/**
 * Longest Unix socket path, in bytes, per platform (`sun_path` minus its NUL).
 * A longer path is silently truncated by `listen` and fails `connect` with a
 * misleading ENOENT (docs/reliability.md H12), so it is refused up front.
 */
export const UNIX_PATH_MAX: Readonly<Partial<Record<NodeJS.Platform, number>>> = {
  linux: 107,
  android: 107,
  darwin: 103,
  freebsd: 103,
  openbsd: 103,
  netbsd: 103
}

/** Throws `FST_PYWATT_CHANNEL_CONFIG` when `path` is longer than the platform allows. */
export function checkUnixPath (path: string, platform: NodeJS.Platform = process.platform): void {
  if (path.length === 0) throw new ERR_PYWATT_CHANNEL_CONFIG('ipc', 'socket_path is empty')
  const max = UNIX_PATH_MAX[platform] ?? 107
  const bytes = Buffer.byteLength(path)
  if (bytes > max) {
    throw new ERR_PYWATT_CHANNEL_CONFIG('ipc', `socket_path is ${bytes} bytes long; the limit on ${platform} is ${max} bytes (a longer path would be truncated by the kernel)`)
  }
}

/** One channel the module should connect. */
export interface ChannelSpec {
  name: SocketChannelName
  target: ChannelTarget
  required: boolean
}

/** A channel of the Init blob that cannot be used as given. */
export interface ChannelProblem {
  name: SocketChannelName
  required: boolean
  error: Error
}

/** Channel settings with every default applied. */
export interface ChannelSettings {
  maxFrameBytes: number
  connectTimeout: number
  partialFrameTimeout: number
  highWaterBytes: number
  reconnect: ReconnectOptions
  breaker: BreakerOptions
  identify: boolean
}

/** The defaults of {@link ChannelSettings} (docs/protocol.md §11, §17). */
export const DEFAULT_CHANNEL_SETTINGS: ChannelSettings = {
  maxFrameBytes: 64 * 1024 * 1024,
  connectTimeout: 30_000,
  partialFrameTimeout: 30_000,
  highWaterBytes: 16 * 1024 * 1024,
  reconnect: { initialDelay: 100, maxDelay: 30_000, maxAttempts: 20 },
  breaker: { threshold: 5, halfOpenAfter: 30_000 },
  identify: false
}

/** Apply the defaults to the `channels` option. */
export function channelSettings (opts: Exclude<ChannelsOption, false> = {}): ChannelSettings {
  const d = DEFAULT_CHANNEL_SETTINGS
  return {
    maxFrameBytes: opts.maxFrameBytes ?? d.maxFrameBytes,
    connectTimeout: opts.connectTimeout ?? d.connectTimeout,
    partialFrameTimeout: opts.partialFrameTimeout ?? d.partialFrameTimeout,
    highWaterBytes: opts.highWaterBytes ?? d.highWaterBytes,
    reconnect: { ...d.reconnect, ...opts.reconnect },
    breaker: { ...d.breaker, ...opts.breaker },
    identify: opts.identify ?? d.identify
  }
}

/**
 * The channels to connect, from the Init blob and the `channels` option. A
 * channel that cannot be used as given is reported as a problem instead: the
 * caller refuses to start when it is `required`, and logs it otherwise.
 */
export function channelSpecs (init: InitBlob, opts: ChannelsOption | undefined): { specs: ChannelSpec[], problems: ChannelProblem[] } {
  const specs: ChannelSpec[] = []
  const problems: ChannelProblem[] = []
  if (opts === false) return { specs, problems }
  const tcp = init.tcp_channel
  if (tcp !== undefined && opts?.tcp !== false) {
    // The Init decoder accepts only numeric ip:port addresses here.
    const address = parseSocketAddress(tcp.address) as SocketAddress
    specs.push({ name: 'tcp', required: tcp.required, target: { kind: 'tcp', host: address.host, port: address.port, tls: tcp.tls_enabled } })
  }
  const ipc = init.ipc_channel
  if (ipc !== undefined && opts?.ipc !== false) {
    try {
      checkUnixPath(ipc.socket_path)
      specs.push({ name: 'ipc', required: ipc.required, target: { kind: 'unix', path: ipc.socket_path } })
    } catch (err) {
      problems.push({ name: 'ipc', required: ipc.required, error: err as Error })
    }
  }
  return { specs, problems }
}
