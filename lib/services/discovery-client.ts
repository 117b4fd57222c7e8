import { randomUUID } from 'node:crypto'
import { connect, type Socket } from 'node:net'
import type { FastifyBaseLogger } from 'fastify'
import { ERR_PYWATT_DISCOVERY } from '../errors.js'
import {
  decodeOrchestratorFrame, encodeFrame, encodeModuleEnvelope, parseSocketAddress,
  DEFAULT_MAX_FRAME_LENGTH,
  type ModuleMessage, type OrchestratorMessage, type ServiceProviderInfo, type ServiceType
} from '../protocol/index.js'
import { FrameReader } from '../transport/frame-reader.js'
import type { DiscoverySettings } from './discovery-options.js'
import { serviceLabel } from './service-client.js'

/*
 * Provider registration and discovery (docs/protocol.md §14.3), as Rust's
 * ServiceDiscoveryClient speaks it: its own TCP connection, a request frame
 * holding an envelope around `register_service_provider` or
 * `discover_service_providers`, and the next frame holding the bare reply.
 *
 * A reply carries no id, so the connection carries one request at a time and
 * is dropped after any failure: a late reply would otherwise answer the next
 * request. Unlike Rust (which retries connecting forever) attempts are
 * bounded. A discovery is retried after any failure; a registration only when
 * it could not be sent, since one that timed out may still have been recorded.
 */

type Request = Extract<ModuleMessage, { op: 'register_service_provider' | 'discover_service_providers' }>
type Reply = Extract<OrchestratorMessage, { op: 'register_service_provider_response' | 'discover_service_providers_response' }>

/** A provider to register. */
export interface ProviderRegistration {
  /** The provider's name. */
  name: string
  /**
   * Its service type: `'Database'`, `'Cache'`, `'Jwt'`, any other name (a
   * custom type) or `{ Custom: name }`. Default: `name`.
   */
  type?: string | ServiceType
  version?: string
  metadata?: Record<string, string>
  /** Where it is served (default: the address the module announced, else `init.listen`). */
  address?: string
}

/** Options of {@link DiscoveryClient.discover}. */
export interface DiscoverOptions {
  /** Every provider of the type, not only the one the orchestrator picks (default false). */
  all?: boolean
}

/** `fastify.pywatt.services`. */
export interface PyWattServices {
  /** Register a provider; resolves with the `provider_id` the orchestrator gave it. */
  register: (provider: ProviderRegistration) => Promise<string>
  /** The providers of a service type (same naming as `register`'s `type`). */
  discover: (type: string | ServiceType, options?: DiscoverOptions) => Promise<ServiceProviderInfo[]>
}

/** What {@link DiscoveryClient} needs from the module. */
export interface DiscoveryClientOptions {
  settings: DiscoverySettings
  /** The module id, sent as `metadata.source` (Rust sends none). */
  source: string
  /** A provider's address when its registration names none. */
  defaultAddress: () => string
  log: FastifyBaseLogger
}

const BUILT_IN = new Set(['Database', 'Cache', 'Jwt'])

/** The `ServiceType` for a name: a built-in type by its own name, any other name a custom type. */
export function serviceType (type: string | ServiceType): ServiceType {
  if (typeof type !== 'string') return type
  return BUILT_IN.has(type) ? type as ServiceType : { Custom: type }
}

/** The frame payload of a request: an envelope with a fresh `metadata.id`, as Rust sends it. */
export function encodeDiscoveryRequest (request: Request, source?: string, id: string = randomUUID()): string {
  const metadata = source === undefined ? { id: randomUUID() } : { id: randomUUID(), source }
  return encodeModuleEnvelope(request, metadata, id)
}

/**
 * Read a reply frame (bare `op`, or an envelope around it).
 *
 * @throws ERR_PYWATT_DISCOVERY when it is not a discovery reply
 */
export function decodeDiscoveryReply (format: number, payload: Uint8Array): Reply {
  const reply = parseReply(format, payload)
  if (typeof reply === 'string') throw new ERR_PYWATT_DISCOVERY(reply)
  return reply
}

/** The reply, or what is wrong with it. */
function parseReply (format: number, payload: Uint8Array): Reply | string {
  let message: OrchestratorMessage
  try {
    message = decodeOrchestratorFrame(format, payload)
  } catch (err) {
    return `undecodable reply: ${(err as Error).message}`
  }
  if (message.op !== 'register_service_provider_response' && message.op !== 'discover_service_providers_response') {
    return `unexpected reply ${message.op}`
  }
  return message
}

/** Host and port of a discovery address: a socket address, or `hostname:port`. */
function parseEndpoint (address: string): { host: string, port: number } | null {
  const socket = parseSocketAddress(address)
  if (socket !== null) return socket
  const named = /^([A-Za-z0-9.-]+):(\d{1,5})$/.exec(address)
  if (named === null || Number(named[2]) > 65535) return null
  return { host: named[1] as string, port: Number(named[2]) }
}

/** Why an attempt failed: whether the request may have reached the endpoint matters for a registration. */
class AttemptError extends Error {
  constructor (message: string, readonly sent: boolean, readonly final = false) {
    super(message)
  }
}

interface Waiter {
  resolve: (frame: { format: number, payload: Buffer }) => void
  reject: (err: AttemptError) => void
}

/** One connection to the discovery endpoint, reused, carrying one request at a time. */
export class DiscoveryClient implements PyWattServices {
  readonly #settings: DiscoverySettings
  readonly #source: string
  readonly #defaultAddress: () => string
  readonly #log: FastifyBaseLogger
  #socket: Socket | null = null
  #waiter: Waiter | null = null
  #tail: Promise<unknown> = Promise.resolve()
  #closed = false
  readonly #connecting = new Set<Socket>()
  readonly #sleeping = new Set<() => void>()

  constructor (opts: DiscoveryClientOptions) {
    this.#settings = opts.settings
    this.#source = opts.source
    this.#defaultAddress = opts.defaultAddress
    this.#log = opts.log
  }

  async register (provider: ProviderRegistration): Promise<string> {
    const request: Request = {
      op: 'register_service_provider',
      service_type: serviceType(provider.type ?? provider.name),
      name: provider.name,
      address: provider.address ?? this.#defaultAddress()
    }
    // Absent ones are written as null, as Rust's client does.
    if (provider.version !== undefined) request.version = provider.version
    if (provider.metadata !== undefined) request.metadata = provider.metadata
    const what = `registration of ${provider.name} (${serviceLabel(request.service_type)})`
    const reply = await this.#request(request, what, false)
    if (reply.op !== 'register_service_provider_response') throw new ERR_PYWATT_DISCOVERY(`${what}: unexpected reply ${reply.op}`)
    if (!reply.success) throw new ERR_PYWATT_DISCOVERY(`${what} refused: ${reply.error ?? 'no reason given'}`)
    if (reply.provider_id == null) throw new ERR_PYWATT_DISCOVERY(`${what}: accepted without a provider_id`)
    this.#log.info({ provider: provider.name, providerId: reply.provider_id }, 'service provider registered')
    return reply.provider_id
  }

  async discover (type: string | ServiceType, options: DiscoverOptions = {}): Promise<ServiceProviderInfo[]> {
    const request: Request = { op: 'discover_service_providers', service_type: serviceType(type), all_providers: options.all === true }
    const what = `discovery of ${serviceLabel(request.service_type)}`
    const reply = await this.#request(request, what, true)
    if (reply.op !== 'discover_service_providers_response') throw new ERR_PYWATT_DISCOVERY(`${what}: unexpected reply ${reply.op}`)
    if (!reply.success) throw new ERR_PYWATT_DISCOVERY(`${what} refused: ${reply.error ?? 'no reason given'}`)
    return reply.providers
  }

  /** Close the connection; requests waiting or queued fail. */
  async close (): Promise<void> {
    this.#closed = true
    for (const wake of this.#sleeping) wake()
    this.#drop('the discovery client is closed')
  }

  /** Queue `request` behind the one in flight. */
  #request (request: Request, what: string, retryAfterSend: boolean): Promise<Reply> {
    const run = (): Promise<Reply> => this.#withRetries(request, what, retryAfterSend)
    const result = this.#tail.then(run, run)
    this.#tail = result.catch(() => {})
    return result
  }

  async #withRetries (request: Request, what: string, retryAfterSend: boolean): Promise<Reply> {
    const address = this.#settings.address
    if (address === null) {
      throw new ERR_PYWATT_DISCOVERY(`${what}: no discovery endpoint is configured (set the discovery.address option, or PYWATT_DISCOVERY_ADDRESS in init.env or the environment)`)
    }
    const endpoint = parseEndpoint(address)
    if (endpoint === null) throw new ERR_PYWATT_DISCOVERY(`${what}: the discovery address ${JSON.stringify(address)} is not host:port`)
    // Encoded once: a retry resends the same request (an encoding error is thrown as it is).
    const payload = encodeDiscoveryRequest(request, this.#source)
    const attempts = this.#settings.retries + 1
    let delay = this.#settings.initialDelay
    for (let attempt = 1; ; attempt++) {
      try {
        if (this.#closed) throw new AttemptError('the discovery client is closed', false, true)
        const frame = await this.#attempt(endpoint, payload)
        const reply = parseReply(frame.format, frame.payload)
        if (typeof reply === 'string') throw new AttemptError(reply, true, true)
        return reply
      } catch (err) {
        // Everything #attempt and the reply check throw is an AttemptError.
        const failure = err as AttemptError
        const last = attempt >= attempts || failure.final || this.#closed || (failure.sent && !retryAfterSend)
        if (last) {
          const tries = attempt === 1 ? '' : ` (after ${attempt} attempts)`
          throw new ERR_PYWATT_DISCOVERY(`${what} at ${address}: ${failure.message}${tries}`)
        }
        this.#log.debug({ attempt, delay, err: failure.message }, 'discovery attempt failed; retrying')
        await this.#sleep(delay)
        delay = Math.min(delay * 2, this.#settings.maxDelay)
      }
    }
  }

  /** Connect if needed, send, and wait for the next frame, all within one timeout. */
  async #attempt (endpoint: { host: string, port: number }, payload: string): Promise<{ format: number, payload: Buffer }> {
    const timeout = this.#settings.timeout
    let timer: NodeJS.Timeout | undefined
    let sent = false
    const expired = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        const why = sent ? `no reply within ${timeout} ms` : `could not connect within ${timeout} ms`
        reject(new AttemptError(why, sent))
        // Whatever arrives later must not answer the next request.
        this.#drop(why)
      }, timeout)
    })
    expired.catch(() => {})
    try {
      const socket = this.#socket ?? await Promise.race([this.#connect(endpoint), expired])
      const reply = new Promise<{ format: number, payload: Buffer }>((resolve, reject) => { this.#waiter = { resolve, reject } })
      sent = true
      socket.write(encodeFrame(payload))
      return await Promise.race([reply, expired])
    } finally {
      clearTimeout(timer)
      this.#waiter = null
    }
  }

  #connect (endpoint: { host: string, port: number }): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: endpoint.host, port: endpoint.port, noDelay: true })
      this.#connecting.add(socket)
      const reader = new FrameReader(DEFAULT_MAX_FRAME_LENGTH, {
        onFrame: (format, payload) => {
          const waiter = this.#waiter
          if (waiter === null) {
            // A frame nobody asked for: the two ends no longer agree on which reply is which.
            this.#log.warn('the discovery endpoint sent a frame no request waited for; reconnecting')
            this.#drop('unsolicited frame')
            return
          }
          this.#waiter = null
          waiter.resolve({ format, payload: Buffer.from(payload) })
        },
        onFault: (err) => this.#drop(`framing error: ${err.message}`, true)
      })
      const onConnectError = (err: Error): void => reject(new AttemptError(err.message, false))
      socket.once('error', onConnectError)
      // Destroyed while connecting (timeout, close()): the error, if any, was reported first.
      socket.once('close', () => {
        this.#connecting.delete(socket)
        reject(new AttemptError('connection closed while connecting', false, this.#closed))
      })
      socket.once('connect', () => {
        this.#connecting.delete(socket)
        socket.off('error', onConnectError)
        this.#socket = socket
        socket.on('data', (chunk: Buffer) => reader.push(chunk))
        socket.on('error', (err) => this.#lost(socket, err.message))
        socket.on('close', () => this.#lost(socket, 'connection closed'))
        resolve(socket)
      })
    })
  }

  #lost (socket: Socket, why: string): void {
    if (this.#socket !== socket) return
    this.#drop(why)
  }

  /** Forget the connection and fail the request waiting on it. */
  #drop (why: string, final = false): void {
    const socket = this.#socket
    this.#socket = null
    socket?.destroy()
    for (const connecting of this.#connecting) connecting.destroy()
    const waiter = this.#waiter
    this.#waiter = null
    waiter?.reject(new AttemptError(why, true, final))
  }

  #sleep (ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer)
        this.#sleeping.delete(wake)
        resolve()
      }
      const timer = setTimeout(wake, ms)
      this.#sleeping.add(wake)
    })
  }
}
