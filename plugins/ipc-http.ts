import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { ERR_PYWATT_CHANNEL_CLOSED } from '../lib/errors.js'
import { IpcHttpServer } from '../lib/ipc-http/server.js'
import { compileTrust } from '../lib/ipc-http/headers.js'
import { resolveIpcHttpOptions } from '../lib/ipc-http/options.js'
import type { HttpReply } from '../lib/protocol/index.js'
import type { SocketChannelName } from '../lib/transport/socket-channel.js'
import type { IpcTransport } from '../lib/http/transport.js'
import { internalsOf } from '../lib/internals.js'
import { LoopDelay } from '../lib/health/loop-delay.js'
import type { LoopDelayWatch } from '../lib/health/routes.js'

/** Options of `fastify-pywatt/ipc-http`. */
export interface IpcHttpOptions {
  /** Requests served at once; later ones wait in arrival order (default 100, as the Rust SDK's server). */
  concurrency?: number
  /** How long closing waits for requests in flight, in milliseconds (default 10 000). */
  drainTimeout?: number
  /**
   * `lean` (default) hands each request straight to Fastify's router with a
   * minimal request/response pair; `inject` uses `app.inject()`, the fallback
   * for anything the lean pair cannot serve (it emulates a socket fully).
   */
  dispatcher?: 'lean' | 'inject'
  /**
   * Milliseconds a request may run (default 30 000; `0` = no bound). Past it
   * the orchestrator gets a 504, the slot is freed, and `request.signal`
   * aborts so the handler can stop its work; a late reply is dropped.
   */
  requestTimeout?: number
  /** Requests that may wait for a slot (default 1 000); past them, 503 with `retry-after` at once. */
  maxQueued?: number
  /**
   * Event-loop delay in milliseconds past which new requests get 503 with
   * `retry-after` instead of a place in the queue; `0` = never. Default: the
   * root plugin's `health.maxEventLoopDelay` (1 000), read from the same
   * monitor as `/health`; with `health: false`, never.
   */
  maxEventLoopDelay?: number
  /**
   * Which `x-forwarded-for` hops to believe for `request.ip`, as Fastify's
   * `trustProxy`, the orchestrator being the proxy in front: a number of hops
   * (default `1`, the orchestrator alone: the entry it added, the last one),
   * addresses or CIDR ranges of trusted proxies, `true` for all (the first
   * entry, which the client controls) or `false` for none (`127.0.0.1`).
   */
  trustProxy?: boolean | number | string | string[]
}

declare module './types.js' {
  interface PyWattNamespace {
    /** Counters of HTTP-over-IPC replies, when `fastify-pywatt/ipc-http` is registered. */
    ipcHttp?: IpcHttpServer['stats']
  }
}

/**
 * `fastify-pywatt/ipc-http`: every route of the app reachable through
 * `http_request` messages on stdin, answered on stdout (docs/protocol.md §9), and
 * on the TCP / Unix-socket channels, answered there with an enveloped
 * `http_response` (docs/protocol.md §11.5: Rust answers those with canned bodies; we do not).
 * Requests that arrive before the app is ready wait for it; on close, reading
 * stops first, requests in flight drain, then `onClose` hooks run.
 */
const ipcHttpPlugin: FastifyPluginAsync<IpcHttpOptions> = async (app, opts) => {
  const { concurrency, drainTimeout, dispatcher, requestTimeout, maxQueued, maxEventLoopDelay, trustProxy } = resolveIpcHttpOptions(opts)
  const channel = app.pywatt.channel
  if (channel === null) {
    app.log.debug('standalone: there is no orchestrator to send http_request messages')
    return
  }
  const source = app.pywatt.replySource
  const send = (reply: HttpReply): void => {
    try {
      channel.sendHttpReply(reply, source)
    } catch (err) {
      // Anything else (a reply that does not encode) is the server's to answer with a 500.
      if (!(err instanceof ERR_PYWATT_CHANNEL_CLOSED)) throw err
      app.log.warn({ err }, 'an HTTP-over-IPC reply could not be written: stdout is gone')
    }
  }
  const internals = internalsOf(app.pywatt)
  const server = new IpcHttpServer(app, send, app.log, {
    concurrency,
    drainTimeout,
    dispatcher,
    requestTimeout,
    maxQueued,
    overloaded: loopPressure(app, internals.loopDelay, maxEventLoopDelay),
    trust: compileTrust(trustProxy)
  })
  Object.assign(app.pywatt, { ipcHttp: server.stats })
  internals.ipcHttpLoad = server
  channel.router.on('http_request', (m) => server.handle(m))
  channel.on('invalid', (line: string, err: Error) => server.handleInvalid(line, err))
  // Requests on the TCP / Unix-socket channels: same routes, replies go back on their channel.
  const channels = app.pywatt.channels
  const sinks = {
    tcp: (reply: HttpReply) => channels.replyHttp('tcp', reply),
    ipc: (reply: HttpReply) => channels.replyHttp('ipc', reply)
  }
  // The ipc channel is a Unix socket: requests on it are marked `unix`.
  const transports: Record<SocketChannelName, IpcTransport> = { tcp: 'tcp', ipc: 'unix' }
  channels.router.on('http_request', (d) => server.handle(d.message, sinks[d.channel], transports[d.channel]))
  channels.on('invalid', (name: SocketChannelName, text: string, err: Error) => server.handleInvalid(text, err, sinks[name]))
  app.addHook('onReady', async () => server.start())
  app.addHook('preClose', async () => {
    if (!await server.close()) app.log.error({ drainTimeout, inFlight: server.inFlight }, 'HTTP-over-IPC requests still running at the drain deadline')
  })
}

/**
 * Whether the event loop is stalled past `limit`: on `/health`'s monitor when
 * there is one, else on a monitor of our own; `undefined` when never.
 */
function loopPressure (app: FastifyInstance, watch: LoopDelayWatch | null, limit: number | undefined): (() => boolean) | undefined {
  if (limit === 0) return undefined
  if (limit === undefined) {
    if (watch === null) return undefined
    const { monitor, limit: max } = watch
    return () => monitor.maxMs > max
  }
  let monitor = watch?.monitor
  if (monitor === undefined) {
    const own = new LoopDelay()
    app.addHook('onClose', async () => { own.close() })
    monitor = own
  }
  const m = monitor
  return () => m.maxMs > limit
}

export const ipcHttp = fp(ipcHttpPlugin, {
  name: 'fastify-pywatt/ipc-http',
  fastify: '5.x',
  dependencies: ['fastify-pywatt'],
  decorators: { fastify: ['pywatt'] }
})
export default ipcHttp
