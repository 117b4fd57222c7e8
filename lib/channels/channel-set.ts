import { EventEmitter } from 'node:events'
import type { FastifyBaseLogger } from 'fastify'
import { ERR_PYWATT_CHANNEL_CLOSED } from '../errors.js'
import {
  encodeHttpReply, encodeModuleEnvelope, encodeModuleMessage,
  type HttpReply, type ModuleMessage, type OrchestratorMessage
} from '../protocol/index.js'
import { OpRouter } from '../transport/op-router.js'
import { OpCounts } from '../transport/op-counts.js'
import { emitGuarded } from '../transport/guarded-emit.js'
import type { StdioChannel } from '../transport/stdio-channel.js'
import type { ChannelKind } from './options.js'
import type { ChannelStats, SocketChannel, SocketChannelName } from '../transport/socket-channel.js'

/** An orchestrator message that arrived on a socket channel, with the channel it came from. */
export type ChannelDelivery = {
  [K in OrchestratorMessage['op']]: { op: K, message: Extract<OrchestratorMessage, { op: K }>, channel: SocketChannelName }
}[OrchestratorMessage['op']]

/** Counters of the stdio link, in the shape of the socket channels' where they apply. */
export interface StdioStats {
  state: 'connected' | 'closed'
  framesIn: number
  framesOut: number
  bytesOut: number
  /** Lines that could not be written: stdout was gone, or over `maxQueuedBytes`. */
  dropped: number
  malformed: number
  handlerErrors: number
}

/** `fastify.pywatt.channels.stats()`. */
export interface ChannelSetStats {
  stdio?: StdioStats
  tcp?: ChannelStats
  ipc?: ChannelStats
  /** Messages that went to another channel than the first choice. */
  failovers: number
  /** Socket-channel messages and `invalid` events whose consumer threw (logged; the module carries on). */
  handlerErrors: number
}

/** A module-to-module message (`routed_module_message` / `routed_module_response`) and the channel it came on (stdio included). */
export type ModuleMessageDelivery = {
  [K in 'routed_module_message' | 'routed_module_response']: { op: K, message: Extract<OrchestratorMessage, { op: K }>, channel: ChannelKind }
}['routed_module_message' | 'routed_module_response']

/** Receives module-to-module messages; see {@link ChannelSet.onModuleMessage}. */
export type ModuleMessageHandler = (delivery: ModuleMessageDelivery) => void

/** Options of `channels.send()`. */
export interface SendOptions {
  /** Channels to try, in order; stdio is always tried last. Default: the `channels.prefer` option. */
  prefer?: readonly ChannelKind[]
  /** `false`: never stdio, not even as the last resort (default true). */
  stdio?: boolean
  /**
   * Called when the frame was lost with its connection and no other channel
   * took it (instead of logging it as lost): the caller may hold it and send it again.
   */
  onLost?: () => void
}

type Encoded = (kind: ChannelKind) => string

const EMPTY = Buffer.alloc(0)

/**
 * Every link to the orchestrator: stdio (always, unless standalone) and the
 * TCP / Unix-socket channels the Init blob offered.
 *
 * Inbound: socket-channel messages go through one op router (buffered until
 * their consumer registers, like stdio's), each delivery naming its channel.
 * Outbound: a message goes to the first usable channel in preference order,
 * with stdio as the last resort; a frame lost because its connection broke is
 * sent again on the next channel, so a reply is never lost to a reconnect.
 * Frames the OS accepted are not sent twice. Replies go back on the channel
 * their request came from first.
 *
 * The core protocol (announce, secrets, rotation acks, HTTP replies to stdio
 * requests) stays on stdio, where the Rust SDK sends it; `send()` is for
 * messages the orchestrator accepts on any channel.
 *
 * Events: `invalid` (channel, JSON text, error) for a frame that failed to decode.
 * A consumer that throws, of a message or of `invalid`, is logged and counted.
 */
export class ChannelSet extends EventEmitter {
  readonly router: OpRouter<ChannelDelivery>
  readonly #stdio: StdioChannel | null
  readonly #sockets: Map<SocketChannelName, SocketChannel>
  readonly #prefer: readonly ChannelKind[]
  readonly #source: string
  readonly #log: FastifyBaseLogger
  readonly #received = new Map<SocketChannelName, OpCounts>()
  #failovers = 0
  #handlerErrors = 0
  #closed = false
  // The last handler set receives; removing it gives them back to the one before.
  readonly #moduleHandlers: ModuleMessageHandler[] = []

  /** The channels the Init blob marked `required`: the module is not ready without them. */
  readonly required: readonly SocketChannelName[]

  constructor (stdio: StdioChannel | null, sockets: SocketChannel[], opts: { prefer: readonly ChannelKind[], source: string, maxBufferedMessages: number, maxBufferedBytes: number, log: FastifyBaseLogger, required?: readonly SocketChannelName[] }) {
    super()
    this.required = opts.required ?? []
    this.#stdio = stdio
    this.#sockets = new Map(sockets.map((s) => [s.name, s]))
    this.#prefer = opts.prefer
    this.#source = opts.source
    this.#log = opts.log
    this.router = new OpRouter({ messages: opts.maxBufferedMessages, bytes: opts.maxBufferedBytes }, (op, count, reason) => {
      this.#log.warn({ op, count, reason }, reason === 'sealed'
        ? 'no consumer for this op on the socket channels: message dropped'
        : 'too many channel messages waiting for a consumer: message dropped')
    }, (err, delivery) => this.#handlerThrew(err, delivery.channel, { op: delivery.op }))
    for (const socket of sockets) {
      const received = new OpCounts()
      this.#received.set(socket.name, received)
      socket.on('message', (message: OrchestratorMessage, bytes: number) => {
        received.add(message.op)
        this.router.dispatch({ op: message.op, message, channel: socket.name } as ChannelDelivery, bytes)
      })
      socket.on('invalid', (text: string, err: Error) => {
        emitGuarded(this, 'invalid', [socket.name, text, err], (e) => this.#handlerThrew(e, socket.name, { event: 'invalid' }))
      })
    }
  }

  /** Decoded messages received on a socket channel, by op (`undefined` when the Init blob did not offer it). */
  received (name: SocketChannelName): OpCounts | undefined {
    return this.#received.get(name)
  }

  /** The socket channels, by name (absent when the Init blob did not offer one). */
  get (name: SocketChannelName): SocketChannel | undefined {
    return this.#sockets.get(name)
  }

  /** The state of every channel: `connected`, `reconnecting`, `failed`… */
  health (): Partial<Record<ChannelKind, string>> {
    const health: Partial<Record<ChannelKind, string>> = {}
    if (this.#stdio !== null) health.stdio = this.#stdio.writer.closedReason === null ? 'connected' : 'closed'
    for (const [name, socket] of this.#sockets) health[name] = socket.state
    return health
  }

  /** Per-channel counters. */
  stats (): ChannelSetStats {
    const stats: ChannelSetStats = { failovers: this.#failovers, handlerErrors: this.#handlerErrors }
    if (this.#stdio !== null) {
      const out = this.#stdio.writer.stats
      const input = this.#stdio.stats
      stats.stdio = {
        state: this.#stdio.writer.closedReason === null ? 'connected' : 'closed',
        framesIn: input.lines,
        framesOut: out.lines,
        bytesOut: out.bytes,
        dropped: out.dropped,
        malformed: input.malformed,
        handlerErrors: input.handlerErrors
      }
    }
    for (const [name, socket] of this.#sockets) stats[name] = socket.stats()
    return stats
  }

  /**
   * Send a module → orchestrator message on the first usable channel of
   * `prefer` (enveloped on sockets, a plain line on stdio).
   *
   * @returns the channel that took it
   * @throws FST_PYWATT_CHANNEL_CLOSED when no channel can take it
   */
  send (message: ModuleMessage, opts: SendOptions = {}): ChannelKind {
    const order = this.#order(opts.prefer ?? this.#prefer)
    return this.#route(opts.stdio === false ? order.filter((kind) => kind !== 'stdio') : order, (kind) => kind === 'stdio' ? encodeModuleMessage(message) : encodeModuleEnvelope(message), message.op, false, opts.onLost)
  }

  /**
   * Answer a message that arrived on `origin` there, failing over if it is gone.
   *
   * @throws ERR_PYWATT_ENCODE when the message cannot be encoded
   */
  reply (origin: SocketChannelName, message: ModuleMessage): void {
    this.#replyOn(origin, message.op, (kind) => kind === 'stdio' ? encodeModuleMessage(message) : encodeModuleEnvelope(message))
  }

  /**
   * Answer an `http_request` that arrived on `origin`: the tagged
   * `http_response` in an envelope on sockets, the `{content, metadata}`
   * wrapper on stdio (docs/protocol.md §9.2, §11.5).
   *
   * @throws ERR_PYWATT_ENCODE when the reply cannot be encoded
   */
  replyHttp (origin: SocketChannelName, reply: HttpReply): void {
    this.#replyOn(origin, 'http_response', (kind) => kind === 'stdio'
      ? encodeHttpReply(reply, this.#source)
      : encodeModuleEnvelope({ op: 'http_response', request_id: reply.request_id, status_code: reply.status_code, headers: reply.headers, body: reply.body ?? EMPTY }))
  }

  /**
   * Receive `routed_module_message` and `routed_module_response` messages from
   * the socket channels and stdio (docs/protocol.md §12). One handler at a time:
   * the root plugin sets one for `fastify.pywatt.modules`; a handler set here
   * takes them from it until removed. Without one they are logged
   * and dropped. Returns a function that removes the handler.
   */
  onModuleMessage (handler: ModuleMessageHandler): () => void {
    this.#moduleHandlers.push(handler)
    return () => {
      const at = this.#moduleHandlers.lastIndexOf(handler)
      if (at !== -1) this.#moduleHandlers.splice(at, 1)
    }
  }

  /** @internal Hand a module-to-module message to the handler, if any. */
  deliverModuleMessage (delivery: ModuleMessageDelivery): void {
    const handler = this.#moduleHandlers.at(-1)
    if (handler === undefined) {
      this.#log.warn({ op: delivery.op, channel: delivery.channel }, 'no module message handler (channels.onModuleMessage): message dropped')
      return
    }
    handler(delivery)
  }

  /** Start connecting every socket channel. */
  start (): void {
    for (const socket of this.#sockets.values()) socket.start()
  }

  /** Close every socket channel for good (stdio is the runtime's). */
  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await Promise.all([...this.#sockets.values()].map(async (s) => { await s.close() }))
  }

  #handlerThrew (err: unknown, channel: SocketChannelName, consumer: { op: string } | { event: string }): void {
    this.#handlerErrors++
    this.#log.error({ err, channel, ...consumer }, 'a channel message handler threw')
  }

  #replyOn (origin: SocketChannelName, op: string, encode: Encoded): void {
    try {
      this.#route(this.#order([origin, ...this.#prefer]), encode, op, false)
    } catch (err) {
      // A reply that does not encode is the caller's to answer; only a lost link ends here.
      if (!(err instanceof ERR_PYWATT_CHANNEL_CLOSED)) throw err
      this.#log.error({ err, channel: origin }, 'a reply could not be sent on any channel')
    }
  }

  #order (prefer: readonly ChannelKind[]): ChannelKind[] {
    const order: ChannelKind[] = []
    for (const kind of [...prefer, ...this.#prefer, 'stdio' as const]) {
      if (!order.includes(kind)) order.push(kind)
    }
    return order
  }

  #route (order: ChannelKind[], encode: Encoded, op: string, rerouted: boolean, onLost?: () => void): ChannelKind {
    for (let i = 0; i < order.length; i++) {
      const kind = order[i] as ChannelKind
      if (kind === 'stdio') {
        if (this.#stdio === null || this.#stdio.writer.closedReason !== null) continue
        this.#stdio.writer.send(encode('stdio'), true)
        this.#stdio.sent.add(op)
      } else {
        const socket = this.#sockets.get(kind)
        if (socket === undefined) continue
        const rest = order.slice(i + 1)
        const sent = socket.send(encode(kind), (err) => {
          this.#log.warn({ channel: kind, err: { message: err.message } }, 'a frame was lost with its connection: sending it on the next channel')
          try {
            this.#route(rest, encode, op, true, onLost)
          } catch (e) {
            if (onLost !== undefined && e instanceof ERR_PYWATT_CHANNEL_CLOSED) onLost()
            else this.#log.error({ err: e }, 'a message could not be sent on any channel')
          }
        })
        if (!sent) continue
      }
      if (i > 0 || rerouted) this.#failovers++
      return kind
    }
    throw new ERR_PYWATT_CHANNEL_CLOSED('no channel to the orchestrator is usable')
  }
}
