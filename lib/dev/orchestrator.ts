import { spawn, type ChildProcessByStdio } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { EventEmitter, once } from 'node:events'
import type { Readable, Writable } from 'node:stream'
import {
  decodeModuleMessage, encodeOrchestratorMessage,
  type EndpointAnnounce, type HttpReplyLine, type ModuleLine, type OrchestratorMessage
} from '../protocol/index.js'
import { LineSplitter } from '../transport/line-splitter.js'
import { freePort } from './free-port.js'
import { ChannelServer } from './channel-server.js'
import { DevServices, type DevServicesOptions } from './services.js'

/** How many module messages (and stray stdout lines) pywatt-dev keeps per module: enough to look back, bounded for a long session. */
export const DEV_KEEP_MESSAGES = 1000

/** How the dev orchestrator starts a module. */
export interface DevOrchestratorOptions {
  /** The module's command and arguments. */
  command: string
  args?: string[]
  cwd?: string
  /** The module process's environment (default: this process's). */
  env?: NodeJS.ProcessEnv
  /** `init.module_id` (default `dev-module`). */
  moduleId?: string
  /** `init.listen` (default `127.0.0.1:<a free port>`). */
  listen?: string
  /** `init.env`. */
  initEnv?: Record<string, string>
  /** Values answered to `get_secret`. */
  secrets?: Record<string, string>
  /** Send `heartbeat` this often, in milliseconds (0 = never, the default). */
  heartbeatInterval?: number
  /** Replace the Init line entirely (tests of bad handshakes). */
  initLine?: string
  /** Largest module stdout line accepted (default 256 MiB). */
  maxLineBytes?: number
  /**
   * Start the module in a process group of its own, so that a Ctrl-C in the
   * terminal reaches only this process, which then stops the module with
   * `shutdown`; SIGTERM and SIGKILL, when it comes to them, go to the whole
   * group (default false). The module still dies with this process: its
   * stdin closes.
   */
  ownProcessGroup?: boolean
  /**
   * Keep only the latest this many of `messages` and of `garbage` (default:
   * all, as a test wants them). A long-running pywatt-dev keeps a window, so
   * heartbeats and stray output do not grow its memory without end.
   */
  keepMessages?: number
  /** Offer a TCP channel on 127.0.0.1 (`init.tcp_channel`). */
  tcpChannel?: { required?: boolean, port?: number }
  /** Offer a Unix-socket channel at `path` (`init.ipc_channel`). */
  ipcChannel?: { required?: boolean, path: string }
  /**
   * How `port_request` is answered: by default the requested port, or a free
   * 127.0.0.1 port when none is requested. Return `null` to leave it unanswered.
   */
  portResponse?: (request: PortRequestLine) => PortGrant | null | Promise<PortGrant | null>
  /** Serve the `Database` and `Cache` services (`service_request`, `service_operation`); absent, they are left unanswered. */
  services?: DevServicesOptions
}

/** A `port_request` the module sent. */
export type PortRequestLine = Extract<ModuleLine, { op: 'port_request' }>

/** The answer to a `port_request` (its `request_id` is filled in). */
export interface PortGrant {
  success: boolean
  port: number
  error_message?: string
}

/** How the module ended. */
export interface ModuleExit {
  code: number | null
  signal: NodeJS.Signals | null
}

type ModuleChild = ChildProcessByStdio<Writable, Readable, Readable>

/**
 * A small orchestrator for module authors and tests: it spawns a module, sends
 * Init, answers `get_secret`, records what the module announces, sends
 * heartbeats and counts missing acks, rotates secrets on demand and stops the
 * module with `shutdown`, then SIGTERM, then SIGKILL.
 *
 * Events: `line` (raw stdout line), `message` (decoded {@link ModuleLine}),
 * `garbage` (a stdout line that is not a protocol message), `announce`,
 * `port-error` (a `port_request` could not be answered),
 * `stderr` (one stderr line), `unknown-secret` (name), `exit` ({@link ModuleExit}).
 */
export class DevOrchestrator extends EventEmitter {
  readonly secrets: Map<string, string>
  readonly messages: ModuleLine[] = []
  readonly garbage: string[] = []
  /** Every stdout byte as received (purity checks). */
  stdoutBytes = 0
  endpoints: EndpointAnnounce[] | null = null
  announcedListen: string | null = null
  /** Heartbeats sent and acks received. */
  heartbeats = { sent: 0, acked: 0 }
  readonly moduleId: string
  listen = ''
  /** The orchestrator's end of the channels offered in Init. */
  readonly channels: { tcp?: ChannelServer, ipc?: ChannelServer } = {}
  #child: ModuleChild | null = null
  #exit: ModuleExit | null = null
  #heartbeatTimer: NodeJS.Timeout | null = null
  readonly #opts: DevOrchestratorOptions
  readonly #services: DevServices | null
  readonly #pendingHttp = new Map<string, { resolve: (reply: HttpReplyLine['content']) => void, reject: (err: Error) => void }>()

  constructor (opts: DevOrchestratorOptions) {
    super()
    this.#opts = opts
    this.moduleId = opts.moduleId ?? 'dev-module'
    this.secrets = new Map(Object.entries(opts.secrets ?? {}))
    this.#services = opts.services === undefined ? null : new DevServices(opts.services, (m) => this.send(m))
  }

  /** The module process, once started. */
  get child (): ModuleChild {
    if (this.#child === null) throw new Error('the module is not started')
    return this.#child
  }

  /** How the module ended, or `null` while it runs. */
  get exited (): ModuleExit | null {
    return this.#exit
  }

  /** Spawn the module and send the Init line. */
  async start (): Promise<void> {
    this.listen = this.#opts.listen ?? `127.0.0.1:${await freePort()}`
    const init: Record<string, unknown> = {
      orchestrator_api: 'http://127.0.0.1:0',
      module_id: this.moduleId,
      env: this.#opts.initEnv ?? {},
      listen: this.listen
    }
    if (this.#opts.tcpChannel !== undefined) {
      const tcp = new ChannelServer({ kind: 'tcp', ...(this.#opts.tcpChannel.port === undefined ? {} : { port: this.#opts.tcpChannel.port }) })
      await tcp.listen()
      this.channels.tcp = tcp
      init.tcp_channel = { address: tcp.address, tls_enabled: false, required: this.#opts.tcpChannel.required ?? false }
    }
    if (this.#opts.ipcChannel !== undefined) {
      const ipc = new ChannelServer({ kind: 'unix', path: this.#opts.ipcChannel.path })
      await ipc.listen()
      this.channels.ipc = ipc
      init.ipc_channel = { socket_path: ipc.address, required: this.#opts.ipcChannel.required ?? false }
    }
    const child = spawn(this.#opts.command, this.#opts.args ?? [], {
      cwd: this.#opts.cwd,
      env: { PYWATT_STANDALONE: '0', ...(this.#opts.env ?? process.env) },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: this.#opts.ownProcessGroup === true
    })
    this.#child = child
    child.stdin.on('error', () => {})
    const stdout = new LineSplitter(this.#opts.maxLineBytes ?? 256 * 1024 * 1024, {
      onLine: (line) => this.#onStdoutLine(line),
      onFault: (fault) => { this.#keep(this.garbage, `<${fault.kind}: ${fault.bytes} bytes>`) }
    })
    child.stdout.on('data', (chunk: Buffer) => {
      this.stdoutBytes += chunk.length
      stdout.push(chunk)
    })
    child.stdout.on('end', () => stdout.end())
    const stderr = new LineSplitter(16 * 1024 * 1024, {
      onLine: (line) => this.emit('stderr', line),
      onFault: () => {}
    })
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk))
    child.stderr.on('end', () => stderr.end())
    const drained = Promise.all([once(child.stdout, 'close'), once(child.stderr, 'close')])
    child.once('exit', (code, signal) => {
      this.#stopHeartbeats()
      // 'exit' can come before the last stdout/stderr bytes; a grandchild that
      // inherited the pipes may hold them open, so the wait is bounded.
      const timer = setTimeout(() => this.#exited({ code, signal }), 2_000)
      drained.then(() => {
        clearTimeout(timer)
        this.#exited({ code, signal })
      }, /* c8 ignore next */ () => {})
    })
    this.sendRaw(this.#opts.initLine ?? JSON.stringify(init))
    const interval = this.#opts.heartbeatInterval ?? 0
    if (interval > 0) {
      this.#heartbeatTimer = setInterval(() => {
        if (this.heartbeats.sent > this.heartbeats.acked) this.emit('missed-ack', this.heartbeats.sent - this.heartbeats.acked)
        this.heartbeat()
      }, interval)
      this.#heartbeatTimer.unref()
    }
  }

  /** Send one message to the module. */
  send (message: OrchestratorMessage): void {
    this.sendRaw(encodeOrchestratorMessage(message))
  }

  /** Write a line exactly as given (a newline is added). */
  sendRaw (text: string): void {
    if (this.#exit === null && this.#child?.stdin.writable === true) this.#child.stdin.write(text + '\n')
  }

  /**
   * Send an `http_request` and resolve with the module's reply (HTTP over
   * stdio, docs/protocol.md §9). Rejects if the module exits first.
   */
  async request (req: { method: string, uri: string, headers?: Record<string, string>, body?: Uint8Array }): Promise<HttpReplyLine['content']> {
    const id = `dev-${randomUUID()}`
    const reply = new Promise<HttpReplyLine['content']>((resolve, reject) => {
      this.#pendingHttp.set(id, { resolve, reject })
    })
    this.sendRaw(encodeOrchestratorMessage({
      op: 'http_request',
      request_id: id,
      method: req.method,
      uri: req.uri,
      headers: req.headers ?? {},
      ...(req.body === undefined ? {} : { body: req.body })
    }))
    return await reply
  }

  /** Send one heartbeat. */
  heartbeat (): void {
    this.heartbeats.sent++
    this.send({ op: 'heartbeat' })
  }

  /**
   * Rotate `name` to `value`: the new value is what `get_secret` answers from
   * now on; the module is told with `rotated`. Resolves with the module's ack.
   */
  async rotate (name: string, value: string, timeout = 5_000): Promise<Extract<ModuleLine, { op: 'rotation_ack' }>> {
    this.secrets.set(name, value)
    const rotationId = randomUUID()
    const ack = this.waitFor((m): m is Extract<ModuleLine, { op: 'rotation_ack' }> =>
      m.op === 'rotation_ack' && m.rotation_id === rotationId, timeout)
    this.send({ op: 'rotated', keys: [name], rotation_id: rotationId })
    return await ack
  }

  /** Resolve with the first module message matching `predicate` (past or future). */
  async waitFor<T extends ModuleLine> (predicate: (m: ModuleLine) => m is T, timeout?: number): Promise<T>
  async waitFor (predicate: (m: ModuleLine) => boolean, timeout?: number): Promise<ModuleLine>
  async waitFor (predicate: (m: ModuleLine) => boolean, timeout = 10_000): Promise<ModuleLine> {
    const seen = this.messages.find(predicate)
    if (seen !== undefined) return seen
    return await new Promise<ModuleLine>((resolve, reject) => {
      const onMessage = (m: ModuleLine): void => {
        if (!predicate(m)) return
        cleanup()
        resolve(m)
      }
      const onExit = (): void => {
        cleanup()
        reject(new Error('the module exited before the awaited message'))
      }
      const timer = setTimeout(() => {
        cleanup()
        reject(new Error(`no matching module message within ${timeout} ms`))
      }, timeout)
      const cleanup = (): void => {
        clearTimeout(timer)
        this.off('message', onMessage)
        this.off('exit', onExit)
      }
      this.on('message', onMessage)
      this.once('exit', onExit)
    })
  }

  /** Resolve when the module has announced. */
  async announced (timeout = 10_000): Promise<EndpointAnnounce[]> {
    const m = await this.waitFor((line): line is Extract<ModuleLine, { op: 'announce' }> => line.op === 'announce', timeout)
    return m.endpoints
  }

  /** Close the module's stdin (what a dying orchestrator looks like). */
  closeStdin (): void {
    this.#child?.stdin.end()
  }

  /** Resolve with the exit once the module ends (or after `timeout` ms, with `null`; no timeout when omitted). */
  async waitForExit (timeout?: number): Promise<ModuleExit | null> {
    if (this.#exit !== null) return this.#exit
    if (timeout === undefined) return (await once(this, 'exit'))[0] as ModuleExit
    const timer = setTimeout(() => this.emit('exit-timeout'), timeout)
    const [result] = await Promise.race([once(this, 'exit'), once(this, 'exit-timeout').then(() => [null])]) as [ModuleExit | null]
    clearTimeout(timer)
    return result
  }

  /**
   * Stop the module: `shutdown`, then SIGTERM after `grace`, then SIGKILL after
   * another `grace`. Resolves with how it ended.
   */
  async shutdown (grace = 10_000): Promise<ModuleExit> {
    if (this.#exit !== null) return this.#exit
    this.send({ op: 'shutdown' })
    let exit = await this.waitForExit(grace)
    if (exit === null) {
      this.#signal('SIGTERM')
      exit = await this.waitForExit(grace)
    }
    if (exit === null) {
      this.#signal('SIGKILL')
      exit = await this.waitForExit(grace)
    }
    return exit as ModuleExit
  }

  /**
   * Signal the running module: with `ownProcessGroup`, its whole group, so a
   * wrapper (`npm start`, a file watcher) takes the process it started along.
   */
  #signal (signal: NodeJS.Signals): void {
    const child = this.#child
    if (child === null || this.#exit !== null) return
    if (this.#opts.ownProcessGroup === true && child.pid !== undefined) {
      try {
        process.kill(-child.pid, signal)
        return
      } catch {
        // No such group any more: the process alone, if it is still there.
      }
    }
    child.kill(signal)
  }

  /** Append to a kept list, dropping its oldest entries beyond `keepMessages` (a quarter at a time, so a push stays cheap). */
  #keep<T> (list: T[], item: T): void {
    list.push(item)
    const keep = this.#opts.keepMessages
    if (keep !== undefined && list.length > keep) list.splice(0, list.length - keep + Math.floor(keep / 4))
  }

  /** Kill the module at once (test clean-up). */
  kill (): void {
    this.#stopHeartbeats()
    this.#signal('SIGKILL')
  }

  #exited (exit: ModuleExit): void {
    if (this.#exit !== null) return
    this.#exit = exit
    for (const pending of this.#pendingHttp.values()) pending.reject(new Error('the module exited before replying'))
    this.#pendingHttp.clear()
    const servers = Object.values(this.channels)
    Promise.all([...servers.map(async (s) => { await s.close() }), this.#services?.close()]).then(() => this.emit('exit', exit), /* c8 ignore next */ () => this.emit('exit', exit))
  }

  async #answerPort (request: PortRequestLine): Promise<void> {
    const grant = this.#opts.portResponse === undefined
      ? { success: true, port: request.specific_port ?? await freePort() }
      : await this.#opts.portResponse(request)
    if (grant === null) return
    this.send({ op: 'port_response', request_id: request.request_id, ...grant })
  }

  #stopHeartbeats (): void {
    if (this.#heartbeatTimer !== null) clearInterval(this.#heartbeatTimer)
    this.#heartbeatTimer = null
  }

  #onStdoutLine (line: string): void {
    this.emit('line', line)
    let message: ModuleLine
    try {
      message = decodeModuleMessage(line)
    } catch {
      this.#keep(this.garbage, line)
      this.emit('garbage', line)
      return
    }
    this.#keep(this.messages, message)
    switch (message.op) {
      case 'get_secret': {
        const value = this.secrets.get(message.name)
        if (value === undefined) this.emit('unknown-secret', message.name)
        else this.send({ op: 'secret', name: message.name, value })
        break
      }
      case 'announce':
        this.announcedListen = message.listen
        this.endpoints = message.endpoints
        this.emit('announce', message)
        break
      case 'heartbeat_ack':
        this.heartbeats.acked++
        break
      case 'port_request':
        this.#answerPort(message).catch((err: unknown) => this.emit('port-error', err))
        break
      case 'service_request':
      case 'service_operation':
        this.#services?.handle(message)
        break
      case 'http_reply': {
        const pending = this.#pendingHttp.get(message.content.request_id)
        this.#pendingHttp.delete(message.content.request_id)
        pending?.resolve(message.content)
        break
      }
    }
    this.emit('message', message)
  }
}
