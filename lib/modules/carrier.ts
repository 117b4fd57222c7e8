import type { FastifyBaseLogger } from 'fastify'
import { ERR_PYWATT_CHANNEL_CLOSED } from '../errors.js'
import type { ChannelSet } from '../channels/channel-set.js'
import type { ChannelKind } from '../channels/options.js'
import type { ModuleMessage } from '../protocol/index.js'
import type { SocketChannel, SocketChannelName } from '../transport/socket-channel.js'

type RouteToModule = Extract<ModuleMessage, { op: 'route_to_module' }>

const SOCKETS: readonly SocketChannelName[] = ['tcp', 'ipc']

/**
 * Which channel carries module-to-module frames: TCP, then the Unix socket,
 * then stdio only when the `modules.stdio` option allows it (the orchestrator
 * must route `route_to_module` read from stdin).
 */
export class Carrier {
  readonly #channels: ChannelSet
  readonly #stdio: boolean
  readonly #standalone: boolean
  readonly #log: FastifyBaseLogger

  constructor (channels: ChannelSet, opts: { stdio: boolean, standalone: boolean, log: FastifyBaseLogger }) {
    this.#channels = channels
    this.#stdio = opts.stdio
    this.#standalone = opts.standalone
    this.#log = opts.log
  }

  /** Why no channel can ever carry a request from now on, or `null` when one can (now or once reconnected). */
  unusable (): string | null {
    if (this.#standalone) return 'the module runs standalone: there is no orchestrator to route requests to other modules'
    if (this.#stdio && this.#channels.health().stdio === 'connected') return null
    const sockets = this.#sockets()
    if (sockets.length === 0) {
      return this.#stdio
        ? 'the orchestrator offered no TCP or Unix-socket channel, and stdio is closed'
        : 'the orchestrator offered no TCP or Unix-socket channel (set the option modules.stdio: true if it routes route_to_module on stdio)'
    }
    if (sockets.every((s) => s.state === 'failed' || s.state === 'closed')) {
      return `every channel gave up or closed (${sockets.map((s) => `${s.name}: ${s.state}`).join(', ')})`
    }
    return null
  }

  /** Send a request now; false when no channel can take it at this moment (a socket is reconnecting). */
  send (message: RouteToModule): boolean {
    try {
      this.#channels.send(message, { prefer: SOCKETS, stdio: this.#stdio })
      return true
    } catch (err) {
      if (err instanceof ERR_PYWATT_CHANNEL_CLOSED) return false
      throw err
    }
  }

  /** Send an answer, first on the channel its request came on. */
  answer (origin: ChannelKind, message: RouteToModule): void {
    try {
      this.#channels.send(message, { prefer: [origin, ...SOCKETS], stdio: this.#stdio || origin === 'stdio' })
    } catch (err) {
      this.#log.error({ err, to: message.target_module_id, requestId: message.request_id }, 'a module answer could not be sent on any channel')
    }
  }

  /** Call `listener` whenever a socket channel changes state. Returns a function that stops it. */
  onStateChange (listener: () => void): () => void {
    const sockets = this.#sockets()
    for (const socket of sockets) socket.on('state', listener)
    return () => { for (const socket of sockets) socket.off('state', listener) }
  }

  #sockets (): SocketChannel[] {
    return SOCKETS.map((name) => this.#channels.get(name)).filter((s): s is SocketChannel => s !== undefined)
  }
}
