import { EventEmitter, once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import type { ChannelServer } from '../../lib/dev/channel-server.js'
import type { DevOrchestrator } from '../../lib/dev/orchestrator.js'
import type { ModuleLine } from '../../lib/protocol/index.js'

/** The three ways the soak reaches the module's routes. */
export type Transport = 'http' | 'stdio' | 'tcp'
export const TRANSPORTS: readonly Transport[] = ['http', 'stdio', 'tcp']

/** What happened to the requests of one transport. */
export interface TransportCounts {
  /** Answered with a 2xx. */
  ok: number
  /** Answered with another status, or refused by the transport (the first few are kept in `errors`). */
  failed: number
  /** No answer within the request timeout. */
  unanswered: number
  /** TCP only: sent on the channel, answered on stdio because the connection was dropped meanwhile (docs/reliability.md T31). */
  rerouted: number
  errors: string[]
}

interface Call { method: string, uri: string, body?: string }

// Reads, a parameterised route and a body round trip; no writes, so the
// module's working set does not grow with the data.
const MIX: readonly Call[] = [
  { method: 'GET', uri: '/hello' },
  { method: 'GET', uri: '/api/items' },
  { method: 'GET', uri: '/api/items/1' },
  { method: 'POST', uri: '/api/echo', body: JSON.stringify({ text: 'soak '.repeat(40), n: [1, 2, 3] }) }
]
const JSON_HEADERS = { 'content-type': 'application/json' }
const MAX_ERRORS = 5

/**
 * Closed-loop load on one transport: `workers` loops, each sending a request,
 * waiting for its answer (or `timeoutMs`) and pausing so that the transport
 * gets about `rate` requests a second in all.
 */
export class LoadDriver {
  readonly transport: Transport
  readonly counts: TransportCounts = { ok: 0, failed: 0, unanswered: 0, rerouted: 0, errors: [] }
  readonly #send: (call: Call) => Promise<number>
  readonly #timeoutMs: number
  #running = false
  #loops: Array<Promise<void>> = []

  constructor (transport: Transport, send: (call: Call) => Promise<number>, timeoutMs: number) {
    this.transport = transport
    this.#send = send
    this.#timeoutMs = timeoutMs
  }

  start (workers: number, rate: number): void {
    this.#running = true
    const period = workers * 1000 / rate
    for (let w = 0; w < workers; w++) this.#loops.push(this.#loop(w, period))
  }

  /** Stop sending; resolves when every request sent has been answered or timed out. */
  async stop (): Promise<void> {
    this.#running = false
    await Promise.all(this.#loops)
  }

  async #loop (worker: number, period: number): Promise<void> {
    let n = worker
    while (this.#running) {
      const started = performance.now()
      await this.#one(MIX[n++ % MIX.length] as Call)
      const rest = period - (performance.now() - started)
      if (rest > 0) await sleep(rest)
    }
  }

  async #one (call: Call): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<'late'>((resolve) => { timer = setTimeout(resolve, this.#timeoutMs, 'late') })
    try {
      const status = await Promise.race([this.#send(call), late])
      if (status === 'late') this.counts.unanswered++
      else if (status >= 200 && status < 300) this.counts.ok++
      else this.#fail(`${call.method} ${call.uri}: status ${status}`)
    } catch (err) {
      this.#fail(`${call.method} ${call.uri}: ${(err as Error).message}`)
    } finally {
      clearTimeout(timer)
    }
  }

  #fail (why: string): void {
    this.counts.failed++
    if (this.counts.errors.length < MAX_ERRORS) this.counts.errors.push(why)
  }
}

/** HTTP on the module's own listener (keep-alive connections of `fetch`). */
export function httpDriver (listen: string, timeoutMs: number): LoadDriver {
  return new LoadDriver('http', async (call) => {
    const res = await fetch(`http://${listen}${call.uri}`, {
      method: call.method,
      ...(call.body === undefined ? {} : { headers: JSON_HEADERS, body: call.body })
    })
    await res.arrayBuffer()
    return res.status
  }, timeoutMs)
}

/** `http_request` lines on the module's stdin, replies on its stdout (docs/protocol.md §9). */
export function stdioDriver (dev: DevOrchestrator, timeoutMs: number): LoadDriver {
  return new LoadDriver('stdio', async (call) => {
    const reply = await dev.request({
      method: call.method,
      uri: call.uri,
      ...(call.body === undefined ? {} : { headers: JSON_HEADERS, body: Buffer.from(call.body) })
    })
    return reply.status_code
  }, timeoutMs)
}

/**
 * `http_request` frames on the TCP channel. A request the module read before
 * the connection was dropped is answered on stdio instead (docs/protocol.md
 * §11); both paths settle it. While the channel is down, sending waits for the
 * module to reconnect.
 */
export class TcpLoad {
  readonly driver: LoadDriver
  readonly #tcp: ChannelServer
  readonly #pending = new Map<string, (status: number, rerouted: boolean) => void>()
  readonly #acks = new EventEmitter()
  #seq = 0
  #paused: Promise<void> | null = null

  constructor (dev: DevOrchestrator, tcp: ChannelServer, timeoutMs: number) {
    this.#tcp = tcp
    this.driver = new LoadDriver('tcp', async (call) => await this.#request(call), timeoutMs)
    tcp.on('message', (envelope: { content: ModuleLine }) => {
      const content = envelope.content
      if (content.op === 'http_response') this.#settle(content.request_id, content.status_code, false)
      else if (content.op === 'heartbeat_ack') this.#acks.emit('ack')
    })
    dev.on('message', (m: ModuleLine) => {
      if (m.op === 'http_reply') this.#settle(m.content.request_id, m.content.status_code, true)
    })
  }

  /**
   * Drop the module's connection the way an orchestrator restarting its
   * channel end would, with requests in flight, then wait for the module to
   * reconnect. New sends wait meanwhile; a heartbeat sent first and acked on
   * the channel proves the module has read every request frame before it, so
   * none dies unread in a socket buffer (that loss is the kernel's, not the
   * module's).
   */
  async restart (timeoutMs: number): Promise<void> {
    let resume = (): void => {}
    this.#paused = new Promise((resolve) => { resume = resolve })
    try {
      const acked = once(this.#acks, 'ack', { signal: AbortSignal.timeout(timeoutMs) })
      this.#tcp.send({ op: 'heartbeat' })
      await explain(acked, 'no heartbeat_ack on the TCP channel before the restart')
      const reconnected = once(this.#tcp, 'connection', { signal: AbortSignal.timeout(timeoutMs) })
      this.#tcp.dropConnection()
      await explain(reconnected, `the module did not reconnect its TCP channel within ${timeoutMs} ms`)
    } finally {
      this.#paused = null
      resume()
    }
  }

  async #request (call: Call): Promise<number> {
    while (this.#paused !== null || this.#tcp.socket === null) {
      await (this.#paused ?? this.#tcp.connected())
    }
    const id = `soak-tcp-${this.#seq++}`
    const status = new Promise<number>((resolve) => {
      this.#pending.set(id, (code, rerouted) => {
        if (rerouted) this.driver.counts.rerouted++
        resolve(code)
      })
    })
    this.#tcp.send({
      op: 'http_request',
      request_id: id,
      method: call.method,
      uri: call.uri,
      headers: call.body === undefined ? {} : JSON_HEADERS,
      ...(call.body === undefined ? {} : { body: Buffer.from(call.body) })
    })
    return await status
  }

  #settle (id: string, status: number, rerouted: boolean): void {
    const resolve = this.#pending.get(id)
    this.#pending.delete(id)
    resolve?.(status, rerouted)
  }
}

/** `promise`, its rejection replaced by one saying `message` (an abort of `once` says only "aborted"). */
async function explain<T> (promise: Promise<T>, message: string): Promise<T> {
  try {
    return await promise
  } catch {
    throw new Error(message)
  }
}
