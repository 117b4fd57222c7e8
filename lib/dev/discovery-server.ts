import { randomUUID } from 'node:crypto'
import { EventEmitter, once } from 'node:events'
import { isDeepStrictEqual } from 'node:util'
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import {
  decodeModuleFrame, encodeFrame, encodeOrchestratorMessage,
  type Envelope, type ModuleMessage, type OrchestratorMessage, type ServiceProviderInfo
} from '../protocol/index.js'
import { FrameReader } from '../transport/frame-reader.js'

/** The module id of a provider whose request named none in `metadata.source` (a Rust client never does). */
export const UNKNOWN_MODULE = 'unknown'

// A discovery request is a few hundred bytes; anything near this is not one.
const MAX_REQUEST_BYTES = 1024 * 1024

type RegisterRequest = Extract<ModuleMessage, { op: 'register_service_provider' }>
type DiscoverRequest = Extract<ModuleMessage, { op: 'discover_service_providers' }>
type Reply = Extract<OrchestratorMessage, { op: 'register_service_provider_response' | 'discover_service_providers_response' }>

/**
 * pywatt-dev's discovery endpoint (docs/protocol.md §14.3): a TCP server on
 * 127.0.0.1 holding the providers modules register. Each connection carries
 * enveloped `register_service_provider` / `discover_service_providers`
 * frames and gets one bare reply frame per request, in order.
 *
 * The request names no module, so a provider belongs to the module named by
 * the envelope's `metadata.source` (fastify-pywatt sends its module id there),
 * else to {@link UNKNOWN_MODULE}. {@link forget} removes a module's providers
 * when it stops.
 *
 * Rules: a registration needs a name and an address; a module registering the
 * same type and name again updates its provider (same id); the same type and
 * name held by another module is refused. `discover` without `all_providers`
 * answers the earliest registered provider of the type.
 *
 * Events: `registered` (provider info), `forgotten` (module id, count),
 * `invalid` (error of a frame that was not a discovery request; its connection is closed).
 */
export class DiscoveryServer extends EventEmitter {
  readonly #host = '127.0.0.1'
  readonly #port: number
  readonly #providers = new Map<string, ServiceProviderInfo>()
  readonly #sockets = new Set<Socket>()
  #server: Server | null = null
  /** Connections accepted so far. */
  connections = 0

  /** @param port 0 (default) picks a free one */
  constructor (port = 0) {
    super()
    this.#port = port
  }

  /** `127.0.0.1:port`, for `PYWATT_DISCOVERY_ADDRESS`. */
  get address (): string {
    if (this.#server === null) throw new Error('the discovery server is not listening')
    const { port } = this.#server.address() as AddressInfo
    return `${this.#host}:${port}`
  }

  /** Connections open now. */
  get openConnections (): number {
    return this.#sockets.size
  }

  /** The registered providers, earliest first. */
  providers (): ServiceProviderInfo[] {
    return [...this.#providers.values()].map((p) => ({ ...p, metadata: { ...p.metadata } }))
  }

  /** Start listening. */
  async listen (): Promise<void> {
    const server = createServer((socket) => this.#accept(socket))
    this.#server = server
    server.listen(this.#port, this.#host)
    await once(server, 'listening')
  }

  /** Remove the providers of a module (it stopped); returns how many there were. */
  forget (moduleId: string): number {
    let count = 0
    for (const [id, provider] of this.#providers) {
      if (provider.module_id !== moduleId) continue
      this.#providers.delete(id)
      count++
    }
    if (count > 0) this.emit('forgotten', moduleId, count)
    return count
  }

  /** Stop listening and close every connection. */
  async close (): Promise<void> {
    for (const socket of this.#sockets) socket.destroy()
    const server = this.#server
    this.#server = null
    if (server !== null && server.listening) await new Promise<void>((resolve) => server.close(() => resolve()))
  }

  /** The reply to one request. */
  handle (envelope: Envelope<ModuleMessage>): Reply | null {
    const content = envelope.content
    const moduleId = envelope.metadata.source ?? UNKNOWN_MODULE
    if (content.op === 'register_service_provider') return this.#register(content, moduleId)
    if (content.op === 'discover_service_providers') return this.#discover(content)
    return null
  }

  #register (request: RegisterRequest, moduleId: string): Reply {
    const refuse = (error: string): Reply => ({ op: 'register_service_provider_response', success: false, error })
    if (request.name === '') return refuse('a provider needs a name')
    if (request.address === '') return refuse(`provider ${request.name} needs an address`)
    const same = [...this.#providers.values()].find((p) => p.name === request.name && isDeepStrictEqual(p.service_type, request.service_type))
    if (same !== undefined && same.module_id !== moduleId) {
      return refuse(`provider ${request.name} of this service type is already registered by module ${same.module_id}`)
    }
    const provider: ServiceProviderInfo = {
      provider_id: same?.provider_id ?? randomUUID(),
      module_id: moduleId,
      service_type: request.service_type,
      name: request.name,
      ...(request.version === undefined ? {} : { version: request.version }),
      address: request.address,
      metadata: { ...request.metadata },
      is_healthy: true
    }
    this.#providers.set(provider.provider_id, provider)
    this.emit('registered', provider)
    return { op: 'register_service_provider_response', success: true, provider_id: provider.provider_id }
  }

  #discover (request: DiscoverRequest): Reply {
    const matching = [...this.#providers.values()].filter((p) => isDeepStrictEqual(p.service_type, request.service_type))
    const providers = request.all_providers === true ? matching : matching.slice(0, 1)
    return { op: 'discover_service_providers_response', success: true, providers }
  }

  #accept (socket: Socket): void {
    this.#sockets.add(socket)
    this.connections++
    socket.setNoDelay(true)
    const reader = new FrameReader(MAX_REQUEST_BYTES, {
      onFrame: (format, payload) => {
        let reply: Reply | null = null
        try {
          reply = this.handle(decodeModuleFrame(format, payload))
          if (reply === null) throw new Error('not a discovery request')
        } catch (err) {
          // Without a reply the client would wait for its timeout; closing tells it now.
          this.emit('invalid', err)
          socket.destroy()
          return
        }
        socket.write(encodeFrame(encodeOrchestratorMessage(reply)))
      },
      onFault: (err) => {
        this.emit('invalid', err)
        socket.destroy()
      }
    })
    socket.on('data', (chunk: Buffer) => reader.push(chunk))
    socket.on('error', () => {})
    socket.once('close', () => this.#sockets.delete(socket))
  }
}
