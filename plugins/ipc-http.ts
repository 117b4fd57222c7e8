import type { FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { ERR_PYWATT_CHANNEL_CLOSED } from '../lib/errors.js'
import { IpcHttpServer } from '../lib/ipc-http/server.js'
import { resolveIpcHttpOptions } from '../lib/ipc-http/options.js'
import type { HttpReply } from '../lib/protocol/index.js'
import type { SocketChannelName } from '../lib/transport/socket-channel.js'
import type { IpcTransport } from '../lib/http/transport.js'
import { internalsOf } from '../lib/internals.js'

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
  const { concurrency, drainTimeout, dispatcher } = resolveIpcHttpOptions(opts)
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
  const server = new IpcHttpServer(app, send, app.log, { concurrency, drainTimeout, dispatcher })
  Object.assign(app.pywatt, { ipcHttp: server.stats })
  internalsOf(app.pywatt).ipcHttpLoad = server
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

export const ipcHttp = fp(ipcHttpPlugin, {
  name: 'fastify-pywatt/ipc-http',
  fastify: '5.x',
  dependencies: ['fastify-pywatt'],
  decorators: { fastify: ['pywatt'] }
})
export default ipcHttp
