import { EventEmitter } from 'node:events'
import type { EndpointAnnounce, ModuleMessage, OrchestratorMessage } from '../protocol/index.js'
import type { ChannelServer } from './channel-server.js'
import { moduleSecrets, type DevModuleSpec, type RestartPolicy } from './config.js'
import type { IpcForward } from './gateway.js'
import type { RoutableModule } from './module-router.js'
import { DEV_KEEP_MESSAGES, DevOrchestrator, type ModuleExit } from './orchestrator.js'
import { prettyLogLine } from './pretty.js'

type RouteToModule = Extract<ModuleMessage, { op: 'route_to_module' }>

/** Where a module is in its life. */
export type ModuleState = 'starting' | 'running' | 'stopping' | 'stopped' | 'restarting' | 'gave-up'

/** How one module runs under `pywatt-dev`. */
export interface ModuleHostOptions {
  spec: DevModuleSpec
  /** Heartbeat interval in milliseconds (0 = off). */
  heartbeat: number
  serviceEcho: boolean
  restart: RestartPolicy
  /** Messages held for a module whose channel is down (default 10 000) and how long (default 30 000 ms). */
  maxHeld?: number
  holdFor?: number
  /** Log lines kept for the status page (default 200). */
  logLines?: number
  /** Time a stopping module gets for each step of shutdown, SIGTERM, SIGKILL (default 5 000 ms). */
  grace?: number
  /** `init.env` of every run (the discovery endpoint's address). */
  initEnv?: () => Record<string, string>
}

/** How a run ended, as the `exit` event says. */
export interface HostExit {
  exit: ModuleExit
  /** Stopped on request (`stop`, `restart`, `shutdown`). */
  requested: boolean
  /** The next start, when one is planned. */
  restartIn?: number
  /** Crashes in the window when the module is left stopped. */
  gaveUp?: number
}

/** One channel as the status page shows it. */
export interface ChannelHealth {
  kind: 'tcp' | 'unix'
  address: string
  connected: boolean
  connections: number
}

/** What the status page shows of a module. */
export interface ModuleSnapshot {
  name: string
  state: ModuleState
  pid: number | null
  startedAt: number | null
  restarts: number
  lastExit: ModuleExit | null
  via: DevModuleSpec['via']
  mount: string | null
  listen: string | null
  endpoints: EndpointAnnounce[]
  heartbeats: { sent: number, acked: number, lastAckAt: number | null }
  channels: ChannelHealth[]
  held: number
  logs: string[]
}

interface Held { message: OrchestratorMessage, at: number }

/**
 * One module under `pywatt-dev`: its runs (each a {@link DevOrchestrator} under
 * the same module id), restarts with backoff after a crash, its state and
 * last log lines, and its end of module-to-module routing: it hands the router
 * the `route_to_module` lines and frames it sends, and takes deliveries on its
 * channel (held while the channel reconnects).
 *
 * Events: `run` (the new {@link DevOrchestrator}, started), `announce`
 * (endpoints), `route` (a `route_to_module`), `log` (one stderr line),
 * `exit` ({@link HostExit}), `dropped` (held messages that expired or overflowed),
 * `start-error` (an error of a restart).
 */
export class ModuleHost extends EventEmitter implements RoutableModule {
  readonly name: string
  readonly spec: DevModuleSpec
  state: ModuleState = 'stopped'
  dev: DevOrchestrator | null = null
  startedAt: number | null = null
  restarts = 0
  lastExit: ModuleExit | null = null
  lastAckAt: number | null = null
  readonly logs: string[] = []
  readonly #opts: ModuleHostOptions
  #held: Held[] = []
  #crashes: number[] = []
  #restartTimer: NodeJS.Timeout | null = null
  #stopRequested = false

  constructor (opts: ModuleHostOptions) {
    super()
    this.#opts = opts
    this.spec = opts.spec
    this.name = opts.spec.name
  }

  /** True while a run of the module is alive (it may be between two connections of its channel). */
  get running (): boolean {
    return this.dev !== null && this.dev.exited === null
  }

  /** The process id of the current run. */
  get pid (): number | null {
    return this.running ? (this.dev?.child.pid ?? null) : null
  }

  /** Start the module (it must not be running); the crash count starts over. */
  async start (): Promise<void> {
    if (this.running) throw new Error(`module ${this.name} is already running`)
    this.#cancelRestart()
    this.#crashes = []
    this.#stopRequested = false
    await this.#run()
  }

  /** Stop the module with `shutdown` (then SIGTERM, SIGKILL); a planned restart is cancelled. */
  async stop (): Promise<ModuleExit | null> {
    this.#cancelRestart()
    const dev = this.dev
    if (dev === null || !this.running) {
      this.state = 'stopped'
      return null
    }
    this.#stopRequested = true
    this.state = 'stopping'
    return await dev.shutdown(this.#opts.grace ?? 5_000)
  }

  /** Stop the module if it runs, then start it again. */
  async restart (): Promise<void> {
    await this.stop()
    this.restarts++
    await this.start()
  }

  /**
   * Hand the module a message: on its connected TCP channel, else its Unix
   * channel, else stdio when it was offered no channel. While an offered
   * channel is down the message is held (bounded in count and time) and sent
   * when the module reconnects.
   */
  deliver (message: OrchestratorMessage): boolean {
    const dev = this.dev
    if (dev === null || !this.running) return false
    const open = this.#connected(dev)
    if (open !== null) {
      open.send(message)
      return true
    }
    if (dev.channels.tcp === undefined && dev.channels.ipc === undefined) {
      dev.send(message)
      return true
    }
    this.#expire()
    if (this.#held.length >= (this.#opts.maxHeld ?? 10_000)) {
      this.emit('dropped', 1, 'overflow')
      return false
    }
    this.#held.push({ message, at: Date.now() })
    return true
  }

  /** How the gateway reaches the module other than by its announced address, per `via`. */
  forward (): IpcForward | undefined {
    const via = this.spec.via
    if (via === 'http') return undefined
    return async (req) => {
      const dev = this.dev
      if (dev === null || !this.running) throw new Error(`module ${this.name} is not running`)
      if (via === 'stdio') return await dev.request(req)
      const server = via === 'tcp' ? dev.channels.tcp : dev.channels.ipc
      if (server?.socket == null) throw new Error(`module ${this.name} has not connected its ${via} channel`)
      const res = await server.request({ ...req, headers: req.headers })
      return { status_code: res.status_code, headers: res.headers, ...(res.body == null ? {} : { body: res.body }) }
    }
  }

  /** What the status page shows. */
  snapshot (): ModuleSnapshot {
    const dev = this.dev
    const alive = this.running
    const channels: ChannelHealth[] = []
    if (dev !== null) {
      for (const [name, server] of Object.entries(dev.channels) as Array<[string, ChannelServer]>) {
        channels.push({ kind: name === 'tcp' ? 'tcp' : 'unix', address: alive ? server.address : server.target.kind === 'unix' ? server.target.path : '', connected: alive && server.socket !== null, connections: server.connections })
      }
    }
    return {
      name: this.name,
      state: this.state,
      pid: this.pid,
      startedAt: alive ? this.startedAt : null,
      restarts: this.restarts,
      lastExit: this.lastExit,
      via: this.spec.via,
      mount: this.spec.mount ?? null,
      listen: alive ? (dev?.announcedListen ?? null) : null,
      endpoints: alive ? (dev?.endpoints ?? []) : [],
      heartbeats: { sent: dev?.heartbeats.sent ?? 0, acked: dev?.heartbeats.acked ?? 0, lastAckAt: this.lastAckAt },
      channels,
      held: this.#held.length,
      logs: [...this.logs]
    }
  }

  async #run (): Promise<void> {
    const spec = this.spec
    const dev = new DevOrchestrator({
      command: spec.command,
      args: spec.args,
      cwd: spec.cwd,
      env: { ...process.env, ...spec.env },
      moduleId: spec.name,
      ...(this.#opts.initEnv === undefined ? {} : { initEnv: this.#opts.initEnv() }),
      ...(spec.listen === undefined ? {} : { listen: spec.listen }),
      secrets: moduleSecrets(spec),
      heartbeatInterval: this.#opts.heartbeat,
      // The host stops and restarts its module; a terminal's Ctrl-C must not reach the module first.
      ownProcessGroup: true,
      keepMessages: DEV_KEEP_MESSAGES,
      services: { databaseUrl: spec.databaseUrl, cacheUrl: spec.cacheUrl, echo: this.#opts.serviceEcho },
      ...(spec.tcpChannel ? { tcpChannel: { required: spec.channelRequired } } : {}),
      ...(spec.unixChannel === undefined ? {} : { ipcChannel: { required: spec.channelRequired, path: spec.unixChannel } })
    })
    this.dev = dev
    this.#held = []
    this.state = 'starting'
    this.lastAckAt = null
    dev.on('stderr', (line: string) => {
      this.logs.push(prettyLogLine(line))
      if (this.logs.length > (this.#opts.logLines ?? 200)) this.logs.shift()
      this.emit('log', line)
    })
    dev.on('message', (m: ModuleMessage) => {
      if (m.op === 'heartbeat_ack') this.lastAckAt = Date.now()
      else if (m.op === 'route_to_module') this.emit('route', m)
    })
    dev.on('announce', () => {
      this.state = 'running'
      this.emit('announce', dev.endpoints ?? [])
    })
    dev.once('exit', (exit: ModuleExit) => this.#exited(dev, exit))
    await dev.start()
    this.startedAt = Date.now()
    for (const server of Object.values(dev.channels)) {
      server.on('message', (envelope: { content: ModuleMessage }) => {
        if (envelope.content.op === 'route_to_module') this.emit('route', envelope.content as RouteToModule)
      })
      server.on('connection', () => this.#flush(dev))
    }
    this.emit('run', dev)
  }

  #connected (dev: DevOrchestrator): ChannelServer | null {
    // A socket being destroyed is still the server's until its 'close': a write to it would be lost.
    for (const server of [dev.channels.tcp, dev.channels.ipc]) if (server?.socket != null && !server.socket.destroyed) return server
    return null
  }

  #expire (): void {
    const oldest = Date.now() - (this.#opts.holdFor ?? 30_000)
    const before = this.#held.length
    this.#held = this.#held.filter((h) => h.at >= oldest)
    if (this.#held.length < before) this.emit('dropped', before - this.#held.length, 'expired')
  }

  #flush (dev: DevOrchestrator): void {
    if (dev !== this.dev) return
    this.#expire()
    const open = this.#connected(dev)
    if (open === null) return
    const held = this.#held
    this.#held = []
    for (const { message } of held) open.send(message)
  }

  #cancelRestart (): void {
    if (this.#restartTimer !== null) clearTimeout(this.#restartTimer)
    this.#restartTimer = null
  }

  #exited (dev: DevOrchestrator, exit: ModuleExit): void {
    if (dev !== this.dev) return
    this.lastExit = exit
    this.#held = []
    if (this.#stopRequested) {
      this.state = 'stopped'
      this.emit('exit', { exit, requested: true } satisfies HostExit)
      return
    }
    const { initialDelay, maxDelay, maxCrashes, window } = this.#opts.restart
    const now = Date.now()
    this.#crashes = this.#crashes.filter((at) => now - at < window)
    this.#crashes.push(now)
    if (this.#crashes.length >= maxCrashes) {
      this.state = 'gave-up'
      this.emit('exit', { exit, requested: false, gaveUp: this.#crashes.length } satisfies HostExit)
      return
    }
    const delay = Math.min(maxDelay, initialDelay * 2 ** (this.#crashes.length - 1))
    this.state = 'restarting'
    this.emit('exit', { exit, requested: false, restartIn: delay } satisfies HostExit)
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = null
      this.restarts++
      this.#run().catch((err: unknown) => {
        this.state = 'stopped'
        this.emit('start-error', err)
      })
    }, delay)
  }
}
