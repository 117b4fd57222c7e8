import type { Readable, Writable } from 'node:stream'
import type { FastifyBaseLogger } from 'fastify'
import { ERR_PYWATT_CHANNEL_CLOSED, ERR_PYWATT_SECRET_NOT_SET } from '../errors.js'
import { envSecrets } from '../logging/env-secrets.js'
import { registerSecret } from '../logging/registry.js'
import { EXIT, type ExitCode } from '../lifecycle/exit-codes.js'
import type { EndpointAnnounce, InitBlob } from '../protocol/index.js'
import type { Observation } from '../observe.js'
import { SecretStore } from '../secrets/store.js'
import { StdioChannel, type StdioLimits } from '../transport/stdio-channel.js'
import { bindTargetOf, type BindTarget } from './bind-target.js'
import { standaloneInit } from './standalone.js'

/** Why the module is stopping. */
export type StopReason = 'shutdown' | 'stdin-eof' | 'output-lost' | 'parent-exit' | 'signal' | 'api'

/** How a {@link ModuleRuntime} is started. */
export interface RuntimeOptions {
  /** No orchestrator: secrets from `env`, listen on HOST/PORT. */
  standalone: boolean
  /** The orchestrator's end of the protocol (stdin/stdout of the process by default). */
  input: Readable
  output: Writable
  limits: StdioLimits
  /** Timeout of one secret request, in milliseconds. */
  secretTimeout: number
  /** Secret names fetched while the module starts: their values are taken even if pushed before the request. */
  startupSecrets: readonly string[]
  /** Answer `heartbeat` with `heartbeat_ack` on stdio (docs/protocol.md §8.1: configurable). */
  heartbeatAck: boolean
  /** Environment used in standalone mode and for `PYWATT_MODULE_ID`. */
  env: NodeJS.ProcessEnv
  log: FastifyBaseLogger
  /** The app's observation point (metrics): secret request latencies, rotations. */
  observation?: Observation
}

/**
 * One module's connection to its orchestrator, independent of Fastify: the
 * handshake, the op router's standing consumers (secrets, rotation, heartbeat,
 * shutdown), the announce, and the stop request that the plugin turns into a
 * drained `close()`.
 */
export class ModuleRuntime {
  readonly init: InitBlob
  readonly standalone: boolean
  readonly bind: BindTarget
  readonly secrets: SecretStore
  /** The stdio link; `null` in standalone mode. */
  readonly channel: StdioChannel | null
  readonly #log: FastifyBaseLogger
  readonly #env: NodeJS.ProcessEnv
  readonly #observation: Observation | undefined
  #announced = false
  #stopListener: ((reason: StopReason, code: ExitCode) => void) | null = null
  #stopRequested: { reason: StopReason, code: ExitCode } | null = null

  private constructor (init: InitBlob, bind: BindTarget, channel: StdioChannel | null, opts: RuntimeOptions) {
    this.init = init
    this.bind = bind
    this.channel = channel
    this.standalone = channel === null
    this.#log = opts.log
    this.#env = opts.env
    this.#observation = opts.observation
    this.secrets = new SecretStore(channel === null
      ? { request: (name) => this.#fromEnv(name) }
      : { request: (name) => { channel.send({ op: 'get_secret', name }); return undefined } },
    opts.secretTimeout, opts.log, opts.observation)
  }

  /**
   * Perform the handshake (or build the standalone Init) and start serving the
   * orchestrator's messages. Rejects with `FST_PYWATT_INIT` when the Init line
   * is missing or invalid.
   */
  static async start (opts: RuntimeOptions): Promise<ModuleRuntime> {
    if (opts.standalone) {
      const { init, bind } = standaloneInit(opts.env)
      return new ModuleRuntime(init, bind, null, opts)
    }
    const channel = new StdioChannel(opts.input, opts.output, opts.limits, opts.log)
    const init = await channel.readInit()
    for (const value of envSecrets(init.env)) registerSecret(value)
    if (init.auth_token != null) registerSecret(init.auth_token)
    const runtime = new ModuleRuntime(init, bindTargetOf(init.listen), channel, opts)
    runtime.secrets.expect(opts.startupSecrets)
    runtime.#serve(channel, opts.heartbeatAck)
    return runtime
  }

  /** The module id: `init.module_id`. */
  get moduleId (): string {
    return this.init.module_id
  }

  /** The `source` of HTTP replies: `PYWATT_MODULE_ID` if set, else the Init module id (docs/protocol.md §9.2). */
  get replySource (): string {
    return this.#env.PYWATT_MODULE_ID?.trim() || this.init.module_id
  }

  /** True once `announce` was sent (or logged, standalone). */
  get announced (): boolean {
    return this.#announced
  }

  /** Set by the plugin: called once when the orchestrator (or the app) asks the module to stop. */
  onStop (listener: (reason: StopReason, code: ExitCode) => void): void {
    this.#stopListener = listener
    if (this.#stopRequested !== null) listener(this.#stopRequested.reason, this.#stopRequested.code)
  }

  /** Ask the module to stop; the first request wins. */
  requestStop (reason: StopReason, code: ExitCode = EXIT.OK): void {
    if (this.#stopRequested !== null) return
    this.#stopRequested = { reason, code }
    this.#stopListener?.(reason, code)
  }

  /**
   * Send `announce` once (docs/protocol.md §6.2): `listen` echoes the address the
   * module serves. Standalone mode logs it instead.
   */
  announce (listen: string, endpoints: EndpointAnnounce[]): void {
    if (this.#announced) return
    this.#announced = true
    if (this.channel === null) {
      this.#log.info({ listen, endpoints }, 'standalone: announce (not sent, there is no orchestrator)')
      return
    }
    this.channel.send({ op: 'announce', listen, endpoints }, true)
  }

  /** Stop reading stdin and fail waiting secret requests. */
  detach (): void {
    this.channel?.stopReading()
    this.secrets.close(new ERR_PYWATT_CHANNEL_CLOSED('the module is shutting down'))
  }

  #fromEnv (name: string): string {
    const value = this.#env[name]
    if (value === undefined) throw new ERR_PYWATT_SECRET_NOT_SET(name, name)
    return value
  }

  #serve (channel: StdioChannel, heartbeatAck: boolean): void {
    const d = channel.router
    d.on('secret', (m) => { this.secrets.offer(m.name, m.value, m.rotation_id) })
    d.on('rotated', (m) => this.#onRotated(channel, m.keys, m.rotation_id))
    d.on('heartbeat', () => {
      if (heartbeatAck) this.#sendQuietly(channel, { op: 'heartbeat_ack' })
    })
    d.on('shutdown', () => {
      this.#log.info('shutdown requested by the orchestrator')
      this.requestStop('shutdown')
    })
    d.on('init', () => this.#log.warn('ignored a second Init message'))
    d.on('register_service_provider_response', (m) => this.#log.info({ success: m.success }, 'service provider registration response'))
    d.on('discover_service_providers_response', (m) => this.#log.info({ success: m.success }, 'service discovery response'))
    channel.on('eof', () => {
      if (this.#stopRequested === null) this.#log.warn('stdin closed without a shutdown message: the orchestrator is gone')
      this.requestStop('stdin-eof')
    })
    channel.on('output-closed', (reason: string) => {
      this.#log.error({ reason }, 'stdout is closed: the orchestrator can no longer be reached')
      this.requestStop('output-lost', EXIT.OUTPUT_LOST)
    })
  }

  #onRotated (channel: StdioChannel, keys: string[], rotationId: string): void {
    let status: 'success' | 'error' = 'success'
    let message: string | undefined
    let duplicate = false
    try {
      duplicate = this.secrets.rotate(keys, rotationId).duplicate
    } catch (err) {
      status = 'error'
      message = (err as Error).message
      this.#log.error({ err, rotationId }, 'could not handle a secret rotation')
    }
    this.#observation?.current?.rotation(duplicate ? 'duplicate' : status)
    this.#sendQuietly(channel, message === undefined
      ? { op: 'rotation_ack', rotation_id: rotationId, status }
      : { op: 'rotation_ack', rotation_id: rotationId, status, message })
  }

  #sendQuietly (channel: StdioChannel, message: Parameters<StdioChannel['send']>[0]): void {
    try {
      channel.send(message, true)
    } catch (err) {
      this.#log.warn({ err, op: message.op }, 'could not send a protocol message')
    }
  }
}
