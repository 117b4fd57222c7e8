import { EventEmitter } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import { Activity } from './activity.js'
import type { ResolvedDevConfig } from './config.js'
import { forwardHttp, forwardOverIpc } from './gateway.js'
import { ModuleHost, type HostExit } from './module-host.js'
import { ModuleRouter } from './module-router.js'
import { DiscoveryServer } from './discovery-server.js'
import type { DevOrchestrator } from './orchestrator.js'
import { endpointTable, modulePrefix, prettyLogLine } from './pretty.js'
import { RouteTable, type RouteConflict } from './routes.js'
import { STATUS_PATH, serveStatus, type ClusterState } from './status-page.js'

/** How a {@link DevCluster} reports. */
export interface DevClusterOptions {
  /** Where reports and the modules' logs go (default process.stdout). */
  out?: NodeJS.WritableStream
  /** Print the modules' stderr as is. */
  raw?: boolean
  /** Colour the modules' log prefixes. */
  colour?: boolean
  /** Override of the config's gateway port. */
  gatewayPort?: number
  /** Time a stopping module gets for each step (default 5 000 ms). */
  grace?: number
}

/**
 * A set of modules under one `pywatt-dev`: one {@link ModuleHost} each, one
 * gateway that routes each request to the module whose announced endpoints
 * (or mount) match, one {@link ModuleRouter} for their module-to-module
 * requests, and the status page at `/_pywatt`.
 *
 * Events: `exit` (module name, {@link HostExit}).
 */
export class DevCluster extends EventEmitter {
  readonly config: ResolvedDevConfig
  readonly hosts = new Map<string, ModuleHost>()
  readonly router: ModuleRouter
  readonly routes = new RouteTable()
  readonly activity = new Activity()
  readonly conflicts: RouteConflict[] = []
  readonly gateway: Server
  /** The discovery endpoint every module gets in `init.env.PYWATT_DISCOVERY_ADDRESS`. */
  readonly discovery = new DiscoveryServer()
  readonly #out: NodeJS.WritableStream
  readonly #opts: DevClusterOptions
  readonly #width: number

  constructor (config: ResolvedDevConfig, opts: DevClusterOptions = {}) {
    super()
    this.config = config
    this.#opts = opts
    this.#out = opts.out ?? process.stdout
    this.#width = Math.max(...config.modules.map((m) => m.name.length))
    this.router = new ModuleRouter((id) => this.hosts.get(id))
    this.router.on('call', (call) => this.activity.call(call))
    config.modules.forEach((spec, index) => {
      const host = new ModuleHost({
        spec,
        heartbeat: config.heartbeat,
        serviceEcho: config.serviceEcho,
        restart: config.restart,
        initEnv: () => ({ PYWATT_DISCOVERY_ADDRESS: this.discovery.address }),
        ...(opts.grace === undefined ? {} : { grace: opts.grace })
      })
      this.hosts.set(spec.name, host)
      this.routes.declare(spec.name, spec.mount)
      this.#watch(host, index)
    })
    this.gateway = createServer((req, res) => this.#serve(req, res))
  }

  /** The gateway's URL, once it listens. */
  get url (): string {
    return `http://127.0.0.1:${(this.gateway.address() as AddressInfo).port}`
  }

  /** Write one report line. */
  say (text: string, module?: string): void {
    this.#out.write(`[pywatt-dev] ${module === undefined ? '' : `${module}: `}${text}\n`)
  }

  /** Listen on 127.0.0.1; rejects with the server's error (a port in use). */
  async listen (): Promise<void> {
    await this.discovery.listen()
    const port = this.#opts.gatewayPort ?? this.config.gatewayPort
    try {
      await new Promise<void>((resolve, reject) => {
        this.gateway.once('error', reject)
        this.gateway.listen(port, '127.0.0.1', () => {
          this.gateway.off('error', reject)
          resolve()
        })
      })
    } catch (err) {
      await this.discovery.close()
      throw err
    }
  }

  /** Start every module. */
  async start (): Promise<void> {
    await Promise.all([...this.hosts.values()].map(async (host) => {
      try {
        await host.start()
      } catch (err) {
        this.say(`cannot start: ${(err as Error).message}`, host.name)
      }
    }))
  }

  /** Stop every module and close the gateway. */
  async shutdown (): Promise<void> {
    await Promise.all([...this.hosts.values()].map(async (host) => await host.stop()))
    this.gateway.closeAllConnections()
    await Promise.all([new Promise<void>((resolve) => this.gateway.close(() => resolve())), this.discovery.close()])
  }

  /** The module `name`. */
  host (name: string): ModuleHost | undefined {
    return this.hosts.get(name)
  }

  /** Everything the status page shows. */
  state (): ClusterState {
    return {
      now: Date.now(),
      gateway: this.gateway.listening ? this.url : '',
      modules: [...this.hosts.values()].map((h) => h.snapshot()),
      requests: this.activity.requests,
      calls: this.activity.calls,
      routing: { ...this.router.counts, pending: this.router.pending },
      conflicts: this.conflicts
    }
  }

  #watch (host: ModuleHost, index: number): void {
    const name = host.name
    const prefix = modulePrefix(name, index, this.#width, this.#opts.colour === true)
    host.on('log', (line: string) => this.#out.write(`${prefix} ${this.#opts.raw === true ? line : prettyLogLine(line)}\n`))
    host.on('route', (message) => this.router.route(name, message))
    host.on('run', (dev: DevOrchestrator) => this.#watchRun(host, dev))
    host.on('announce', () => {
      const dev = host.dev as DevOrchestrator
      this.say(endpointTable(dev.announcedListen ?? '', dev.endpoints ?? []), name)
      // A module that announces again (a restart) is checked afresh.
      this.conflicts.splice(0, this.conflicts.length, ...this.conflicts.filter((c) => c.kept !== name && c.other !== name))
      const found = this.routes.announce(name, dev.endpoints ?? [])
      for (const c of found) {
        this.conflicts.push(c)
        this.say(`route conflict: ${c.method} ${c.path} is announced by ${c.kept} and ${c.other}; ${c.kept} keeps it (it announced first)`)
      }
      if (found.length > 0) this.say(`to serve both, give ${name} a "mount" in the config (its paths then live under it), or give every module but one a mount`)
    })
    host.on('dropped', (count: number, why: string) => this.say(`${count} message(s) for the module dropped while its channel was down (${why})`, name))
    host.on('start-error', (err: Error) => this.say(`cannot restart: ${err.message}`, name))
    host.on('exit', (exit: HostExit) => {
      const how = exit.exit.signal ?? `code ${String(exit.exit.code)}`
      this.routes.withdraw(name)
      this.router.stopped(name, `exited with ${how}`)
      this.discovery.forget(name)
      if (exit.gaveUp !== undefined) this.say(`crashed (exit ${how}) ${exit.gaveUp} times within ${this.config.restart.window / 1000} s: not restarted again (start ${name} to try again)`, name)
      else if (exit.restartIn !== undefined) this.say(`crashed (exit ${how}); restarting in ${exit.restartIn} ms`, name)
      else this.say(`exited with ${how}`, name)
      this.emit('exit', name, exit)
    })
  }

  #watchRun (host: ModuleHost, dev: DevOrchestrator): void {
    const name = host.name
    this.say(`started ${[host.spec.command, ...host.spec.args].join(' ')} (pid ${String(dev.child.pid)}, listen ${dev.listen})`, name)
    dev.on('garbage', (line: string) => this.say(`wrote a non-protocol line on stdout (${line.length} chars)`, name))
    dev.on('unknown-secret', (secret: string) => this.say(`asked for secret ${secret}, which is not set: no answer sent`, name))
    dev.on('missed-ack', (n: number) => this.say(`${n} heartbeat(s) not acknowledged`, name))
    for (const [kind, server] of Object.entries(dev.channels)) {
      this.say(`offering the ${kind} channel at ${server.address}`, name)
      server.on('connection', () => this.say(`connected its ${kind} channel`, name))
      server.on('disconnect', () => { if (dev.exited === null) this.say(`its ${kind} channel disconnected`, name) })
      server.on('invalid', (err: Error) => this.say(`bad frame on the ${kind} channel: ${err.message}`, name))
    }
    const timeout = this.config.announceTimeout
    if (timeout > 0) {
      const timer = setTimeout(() => {
        if (dev.announcedListen !== null || dev.exited !== null) return
        this.say(`no announce ${timeout} s after it started: nothing is routed to it before it announces. ` +
          'A module that calls app.listen() never announces: call app.pywatt.listen() instead', name)
      }, timeout * 1000)
      timer.unref()
      dev.once('exit', () => clearTimeout(timer))
    }
  }

  #serve (req: IncomingMessage, res: ServerResponse): void {
    const uri = req.url ?? '/'
    if (uri === STATUS_PATH || uri.startsWith(`${STATUS_PATH}/`) || uri.startsWith(`${STATUS_PATH}?`)) {
      serveStatus(req, res, () => this.state())
      return
    }
    const method = req.method ?? 'GET'
    const started = performance.now()
    let module: string | null = null
    res.once('close', () => {
      this.activity.request({ method, path: uri, module, status: res.statusCode, ms: performance.now() - started, at: Date.now() })
    })
    const match = this.routes.match(method, uri) ?? this.#sole(uri)
    if (match === null) {
      const waiting = [...this.hosts.values()].filter((h) => h.running && h.dev?.announcedListen == null).map((h) => h.name)
      const error = `no module announced a route for ${method} ${uri.split('?')[0] as string}` +
        (waiting.length > 0 ? ` (not announced yet: ${waiting.join(', ')})` : '')
      answer(res, waiting.length > 0 ? 503 : 404, error)
      return
    }
    const host = this.hosts.get(match.module) as ModuleHost
    module = host.name
    const forward = host.forward()
    if (forward !== undefined) {
      forwardOverIpc(forward, req, res, match.uri)
      return
    }
    const listen = host.running ? host.dev?.announcedListen ?? null : null
    if (listen === null) {
      answer(res, 503, this.hosts.size === 1 ? 'the module has not announced yet' : `module ${host.name} has not announced yet`)
      return
    }
    forwardHttp(listen, req, res, match.uri)
  }

  /** With one module and no mount, every request is its own (what one-module `pywatt-dev` always did). */
  #sole (uri: string): { module: string, uri: string } | null {
    if (this.hosts.size !== 1) return null
    const [host] = this.hosts.values() as Iterable<ModuleHost>
    return host === undefined || host.spec.mount !== undefined ? null : { module: host.name, uri }
  }
}

function answer (res: ServerResponse, status: number, error: string): void {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ error }))
}
