import type { FastifyBaseLogger } from 'fastify'
import { ERR_PYWATT_CHANNEL_CLOSED } from '../errors.js'
import type { ChannelSet } from '../channels/channel-set.js'
import type { ChannelKind } from '../channels/options.js'
import type { ModuleMessage } from '../protocol/index.js'
import type { SocketChannel, SocketChannelName } from '../transport/socket-channel.js'

type RouteToModule = Extract<ModuleMessage, { op: 'route_to_module' }>

const SOCKETS: readonly SocketChannelName[] = ['tcp', 'ipc']

// Frames kept while every channel reconnects: past these, a caller's own timeout is the better answer.
const MAX_HELD = 10_000
const HOLD_MS = 30_000

interface Held { message: RouteToModule, origin: ChannelKind | null, at: number }

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
  #held: Held[] = []
  #unwatch: (() => void) | null = null

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

  /**
   * Send a request now; false when no channel can take it at this moment (a
   * socket is reconnecting). A request frame lost with its connection is
   * held and sent again once a channel is back.
   */
  send (message: RouteToModule): boolean {
    return this.#try(message, null)
  }

  /**
   * Send an answer, first on the channel its request came on. While every
   * channel reconnects it is held (bounded) and sent once one is back, so a
   * cut connection does not cost the caller its answer.
   */
  answer (origin: ChannelKind, message: RouteToModule): void {
    if (!this.#try(message, origin)) this.#hold({ message, origin, at: Date.now() })
  }

  /** Drop what is held (the module is stopping). */
  close (): void {
    this.#unwatch?.()
    this.#unwatch = null
    if (this.#held.length > 0) this.#log.warn({ dropped: this.#held.length }, 'module-to-module frames still waiting for a channel at close: dropped')
    this.#held = []
  }

  /** `since`: when a held frame was first held, so that sending it again keeps its deadline. */
  #try (message: RouteToModule, origin: ChannelKind | null, since?: number): boolean {
    const opts = origin === null
      ? { prefer: SOCKETS, stdio: this.#stdio }
      : { prefer: [origin, ...SOCKETS], stdio: this.#stdio || origin === 'stdio' }
    try {
      this.#channels.send(message, { ...opts, onLost: () => this.#hold({ message, origin, at: since ?? Date.now() }) })
      return true
    } catch (err) {
      if (err instanceof ERR_PYWATT_CHANNEL_CLOSED) return false
      throw err
    }
  }

  #hold (held: Held): void {
    const why = this.unusable()
    if (why !== null || this.#held.length >= MAX_HELD) {
      this.#log.error({ to: held.message.target_module_id, requestId: held.message.request_id, reason: why ?? `${MAX_HELD} frames already wait for a channel` }, 'a module-to-module frame could not be sent on any channel: dropped')
      return
    }
    this.#held.push(held)
    this.#unwatch ??= this.onStateChange(() => this.#flush())
  }

  #flush (): void {
    const now = Date.now()
    while (this.#held.length > 0) {
      const held = this.#held[0] as Held
      if (now - held.at > HOLD_MS) {
        this.#held.shift()
        this.#log.error({ to: held.message.target_module_id, requestId: held.message.request_id }, `a module-to-module frame waited ${HOLD_MS} ms for a channel: dropped`)
        continue
      }
      if (!this.#try(held.message, held.origin, held.at)) {
        // Still no channel: keep the rest for the next change, unless none will ever come.
        if (this.unusable() !== null) this.close()
        return
      }
      this.#held.shift()
    }
    this.#unwatch?.()
    this.#unwatch = null
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
