import type { ConnectionOptions } from 'node:tls'
import type { FastifyBaseLogger } from 'fastify'
import { ERR_PYWATT_CHANNEL_REQUIRED } from '../errors.js'
import type { InitBlob } from '../protocol/index.js'
import type { StdioChannel } from '../transport/stdio-channel.js'
import { ChannelSet } from './channel-set.js'
import { channelSettings, channelSpecs } from './config.js'
import type { ChannelsOption } from './options.js'
import { SocketChannel } from '../transport/socket-channel.js'

/** What {@link openChannels} needs. */
export interface OpenChannelsOptions {
  init: InitBlob
  stdio: StdioChannel | null
  option: ChannelsOption | undefined
  /** Extra TLS settings for a TCP channel with `tls_enabled`. */
  tls?: ConnectionOptions
  /** `metadata.source` of HTTP replies that fail over to stdio. */
  source: string
  maxBufferedMessages: number
  maxBufferedBytes: number
  log: FastifyBaseLogger
  /** A `shutdown` arrived on a channel. */
  onShutdown: () => void
  /** Cuts the wait for required channels (the start must end within Fastify's `pluginTimeout`). */
  clampWait?: (ms: number) => number
}

// Rust ignores these on a channel (docs/protocol.md §11.4); they belong to stdio.
const IGNORED_OPS = [
  'secret', 'rotated', 'register_service_provider_response', 'discover_service_providers_response',
  'service_response', 'service_operation_result', 'port_response'
] as const

/**
 * Connect the channels the Init blob offers and serve their control messages:
 * `heartbeat` → enveloped `heartbeat_ack` on the same channel, `shutdown` →
 * the module's normal stop, module-to-module messages → the handler of
 * `channels.onModuleMessage()`. `http_request` is left to
 * `fastify-pywatt/ipc-http`.
 *
 * Resolves once every `required` channel is connected.
 *
 * @throws FST_PYWATT_CHANNEL_REQUIRED when a required channel is unusable or
 * not connected within `connectTimeout`; every channel is closed first
 */
export async function openChannels (opts: OpenChannelsOptions): Promise<ChannelSet> {
  const { log } = opts
  const settings = channelSettings(opts.option === false ? undefined : opts.option)
  const { specs, problems } = channelSpecs(opts.init, opts.option)
  for (const problem of problems) {
    // No `cause`: the message already carries it, and pino would print it twice.
    if (problem.required) throw new ERR_PYWATT_CHANNEL_REQUIRED(problem.name, problem.error.message)
    log.error({ channel: problem.name, err: problem.error }, 'channel not connected: its configuration is unusable')
  }
  const identifyAs = settings.identify ? opts.init.module_id : null
  const sockets = specs.map((spec) => new SocketChannel({
    name: spec.name,
    target: spec.target,
    maxFrameBytes: settings.maxFrameBytes,
    connectTimeout: settings.connectTimeout,
    partialFrameTimeout: settings.partialFrameTimeout,
    highWaterBytes: settings.highWaterBytes,
    reconnect: settings.reconnect,
    breaker: settings.breaker,
    ...(opts.tls === undefined ? {} : { tls: opts.tls }),
    identifyAs,
    log
  }))
  const prefer = (opts.option === false ? undefined : opts.option?.prefer) ?? ['ipc', 'tcp', 'stdio']
  const required = specs.filter((s) => s.required)
  const set = new ChannelSet(opts.stdio, sockets, { prefer, source: opts.source, maxBufferedMessages: opts.maxBufferedMessages, maxBufferedBytes: opts.maxBufferedBytes, log, required: required.map((s) => s.name) })
  const d = set.router
  d.on('heartbeat', (m) => set.reply(m.channel, { op: 'heartbeat_ack' }))
  d.on('shutdown', (m) => {
    log.info({ channel: m.channel }, 'shutdown requested by the orchestrator')
    opts.onShutdown()
  })
  d.on('routed_module_message', (m) => set.deliverModuleMessage(m))
  d.on('routed_module_response', (m) => set.deliverModuleMessage(m))
  for (const op of IGNORED_OPS) d.on(op, (m) => log.debug({ op, channel: m.channel }, 'ignored a message that belongs on stdio'))
  set.start()
  try {
    await Promise.all(required.map(async (spec) => {
      try {
        await (set.get(spec.name) as SocketChannel).connected(opts.clampWait?.(settings.connectTimeout) ?? settings.connectTimeout)
      } catch (err) {
        throw new ERR_PYWATT_CHANNEL_REQUIRED(spec.name, (err as Error).message)
      }
    }))
  } catch (err) {
    await set.close()
    throw err
  }
  return set
}
