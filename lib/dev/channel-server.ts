import { randomUUID } from 'node:crypto'
import { EventEmitter, once } from 'node:events'
import { chmod, rm } from 'node:fs/promises'
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import {
  decodeModuleFrame, encodeFrame, encodeOrchestratorMessage,
  type Envelope, type ModuleMessage, type OrchestratorMessage
} from '../protocol/index.js'
import { FrameReader } from '../transport/frame-reader.js'

// What a long pywatt-dev session keeps of the module's frames.
const MAX_RECEIVED = 10_000

/** Where a {@link ChannelServer} listens. */
export type ChannelServerTarget = { kind: 'tcp', port?: number } | { kind: 'unix', path: string }

/** An HTTP response that came back on a channel (the tagged `http_response`). */
export type ChannelHttpResponse = Extract<ModuleMessage, { op: 'http_response' }>

/**
 * The orchestrator's end of a TCP or Unix-socket channel (docs/protocol.md §11), for
 * `pywatt-dev` and tests: it listens (TCP on 127.0.0.1 only; a Unix socket
 * with mode 0600, removed on close), accepts the module's connection, reads
 * its enveloped frames and writes bare `op` frames.
 *
 * Events: `connection` (socket), `message` (the envelope of a decoded frame),
 * `invalid` (a frame that failed to decode, with the error), `disconnect`.
 */
export class ChannelServer extends EventEmitter {
  readonly target: ChannelServerTarget
  readonly received: Array<Envelope<ModuleMessage>> = []
  /** Connections accepted so far. */
  connections = 0
  #server: Server | null = null
  #socket: Socket | null = null
  readonly #pendingHttp = new Map<string, (response: ChannelHttpResponse) => void>()

  constructor (target: ChannelServerTarget) {
    super()
    this.target = target
  }

  /** The address for the Init blob: `127.0.0.1:port` or the socket path. */
  get address (): string {
    if (this.target.kind === 'unix') return this.target.path
    const { port } = (this.#server as Server).address() as AddressInfo
    return `127.0.0.1:${port}`
  }

  /** The module's connection, if one is open. */
  get socket (): Socket | null {
    return this.#socket
  }

  /** Start listening. */
  async listen (): Promise<void> {
    const server = createServer((socket) => this.#accept(socket))
    this.#server = server
    if (this.target.kind === 'unix') {
      await rm(this.target.path, { force: true })
      server.listen(this.target.path)
      await once(server, 'listening')
      // Any local process could otherwise connect and speak for the orchestrator.
      await chmod(this.target.path, 0o600)
    } else {
      server.listen(this.target.port ?? 0, '127.0.0.1')
      await once(server, 'listening')
    }
  }

  /** Resolves when the module is connected (now or later). */
  async connected (): Promise<Socket> {
    if (this.#socket !== null) return this.#socket
    const [socket] = await once(this, 'connection') as [Socket]
    return socket
  }

  /** Send a bare `op` message as a format-1 frame. */
  send (message: OrchestratorMessage): void {
    this.sendRaw(encodeFrame(encodeOrchestratorMessage(message)))
  }

  /** Write raw bytes on the module's connection (tests of bad frames). */
  sendRaw (bytes: Uint8Array): void {
    const socket = this.#socket
    if (socket === null) throw new Error('no module is connected to this channel')
    // Frames written in one tick leave in one write: with many requests in
    // flight, a system call per frame was most of the router's time.
    if (socket.writableCorked === 0) {
      socket.cork()
      process.nextTick(() => socket.uncork())
    }
    socket.write(bytes)
  }

  /** Send an `http_request` and resolve with the module's `http_response`. */
  async request (req: { method: string, uri: string, headers: Record<string, string>, body?: Uint8Array, request_id?: string }): Promise<ChannelHttpResponse> {
    const requestId = req.request_id ?? randomUUID()
    const response = new Promise<ChannelHttpResponse>((resolve) => this.#pendingHttp.set(requestId, resolve))
    this.send({ op: 'http_request', ...req, request_id: requestId } as OrchestratorMessage)
    return await response
  }

  /** Drop the module's connection (it should reconnect). */
  dropConnection (): void {
    this.#socket?.destroy()
  }

  /** Stop listening and drop the connection; a Unix socket file is removed. */
  async close (): Promise<void> {
    this.#socket?.destroy()
    const server = this.#server
    this.#server = null
    if (server !== null && server.listening) {
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
    if (this.target.kind === 'unix') await rm(this.target.path, { force: true })
  }

  #accept (socket: Socket): void {
    // One module connection at a time: a reconnect replaces the old one.
    this.#socket?.destroy()
    this.#socket = socket
    this.connections++
    if (this.target.kind === 'tcp') socket.setNoDelay(true)
    const reader = new FrameReader(256 * 1024 * 1024, {
      onFrame: (format, payload) => {
        let envelope: Envelope<ModuleMessage>
        try {
          envelope = decodeModuleFrame(format, payload)
        } catch (err) {
          this.emit('invalid', err)
          return
        }
        this.received.push(envelope)
        if (this.received.length > MAX_RECEIVED) this.received.shift()
        const content = envelope.content
        if (content.op === 'http_response') {
          const resolve = this.#pendingHttp.get(content.request_id)
          this.#pendingHttp.delete(content.request_id)
          resolve?.(content)
        }
        this.emit('message', envelope)
      },
      onFault: (err) => {
        this.emit('invalid', err)
        socket.destroy()
      }
    })
    socket.on('data', (chunk: Buffer) => reader.push(chunk))
    socket.on('error', () => {})
    socket.once('close', () => {
      if (this.#socket === socket) this.#socket = null
      this.emit('disconnect')
    })
    this.emit('connection', socket)
  }
}
