import { EventEmitter } from 'node:events'
import { connect as netConnect, isIP, type Socket } from 'node:net'
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls'
import type { FastifyBaseLogger } from 'fastify'
import type { CircuitBreakerPolicy, CircuitState, ExponentialBackoff, IBackoff } from 'cockatiel'
import { decodeOrchestratorFrame, encodeEnvelope, encodeFrame, type FrameFormat, type OrchestratorMessage } from '../protocol/index.js'
import { FrameReader } from './frame-reader.js'
import { emitGuarded } from './guarded-emit.js'
import { breakerStateName, cockatiel, type BreakerState } from '../resilience/cockatiel.js'

/** The socket channels an Init blob can offer (docs/protocol.md §11). */
export type SocketChannelName = 'tcp' | 'ipc'

/** Where a socket channel connects. */
export type ChannelTarget =
  | { kind: 'tcp', host: string, port: number, tls: boolean }
  | { kind: 'unix', path: string }

/** Reconnection after a lost or refused connection. */
export interface ReconnectOptions {
  /** First delay, in milliseconds. */
  initialDelay: number
  /** Cap of one delay, in milliseconds. */
  maxDelay: number
  /** Consecutive failed attempts after which the channel gives up (state `failed`). */
  maxAttempts: number
}

/** The circuit breaker that takes an unreliable channel out of rotation. */
export interface BreakerOptions {
  /** Consecutive failed writes that open the breaker. */
  threshold: number
  /** How long an open breaker keeps the channel out before one trial write, in milliseconds. */
  halfOpenAfter: number
}

/** How a {@link SocketChannel} behaves. */
export interface SocketChannelOptions {
  name: SocketChannelName
  target: ChannelTarget
  /** Cap of one inbound frame's payload; larger is a framing error. */
  maxFrameBytes: number
  /** Time one connection attempt may take, in milliseconds. */
  connectTimeout: number
  /** Time a frame may stay incomplete before the connection is dropped, in milliseconds. */
  partialFrameTimeout: number
  /** Outbound bytes above which the channel stops reading until its socket drains. */
  highWaterBytes: number
  reconnect: ReconnectOptions
  breaker: BreakerOptions
  /** Extra TLS settings (CA, client certificate) when the target asks for TLS. */
  tls?: ConnectionOptions
  /** Send an enveloped `identify` with this module id after every connect (opt-in, docs/protocol.md §4.4). */
  identifyAs: string | null
  log: FastifyBaseLogger
}

/** Where a channel is in its life. */
export type ChannelState = 'connecting' | 'connected' | 'reconnecting' | 'failed' | 'closed'

/** Counters of one channel, readable from `fastify.pywatt.channels.stats()`. */
export interface ChannelStats {
  state: ChannelState
  breaker: BreakerState
  framesIn: number
  framesOut: number
  bytesIn: number
  bytesOut: number
  /** Inbound frames whose payload was not a valid message (skipped). */
  malformed: number
  /** Inbound frames whose `message` or `invalid` listener threw (logged; the channel carries on). */
  handlerErrors: number
  /** Framing errors, lost connections and failed writes. */
  errors: number
  /** Successful connections, the first included. */
  connects: number
  /** Successful connections after a lost one. */
  reconnects: number
}

/**
 * One TCP or Unix-socket channel to the orchestrator (docs/protocol.md §11): the
 * module connects, reads bare (or enveloped) `op` frames and writes enveloped
 * ones. Reading and writing are independent (full duplex); Rust's reader holds
 * a lock that blocks sends (docs/protocol.md §11.6), this does not.
 *
 * A lost connection is retried with capped exponential backoff and jitter, up
 * to `reconnect.maxAttempts` consecutive failures, and never after `close()`.
 * A framing error (length over the cap, bad format byte, a frame left
 * incomplete too long) drops the connection, which is then re-established:
 * the byte stream cannot be resynchronised, the module carries on.
 *
 * Writes go through a circuit breaker (cockatiel): consecutive failed writes
 * take the channel out of rotation until one trial write succeeds.
 *
 * Events: `message` (a decoded orchestrator message), `invalid` (a frame whose
 * payload did not decode: its JSON text and the error), `state` (the new state).
 */
export class SocketChannel extends EventEmitter {
  readonly name: SocketChannelName
  readonly #opts: SocketChannelOptions
  readonly #log: FastifyBaseLogger
  readonly #breaker: CircuitBreakerPolicy
  readonly #backoffs: ExponentialBackoff<unknown>
  readonly #stats = { framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0, malformed: 0, handlerErrors: 0, errors: 0, connects: 0, reconnects: 0 }
  #state: ChannelState = 'connecting'
  #socket: Socket | null = null
  #reader: FrameReader | null = null
  #failures = 0
  #backoff: IBackoff<unknown> | undefined
  #retryTimer: NodeJS.Timeout | null = null
  #partialTimer: NodeJS.Timeout | null = null
  #openedAt = 0
  #corked = false
  #pausedForPressure = false
  #started = false
  #lastError: string | null = null
  /** A write failed and no write has succeeded through the breaker since. */
  #failing = false
  readonly #closedState: CircuitState

  constructor (opts: SocketChannelOptions) {
    super()
    this.name = opts.name
    this.#opts = opts
    this.#log = opts.log
    const { circuitBreaker, handleAll, ConsecutiveBreaker, ExponentialBackoff, CircuitState } = cockatiel()
    this.#closedState = CircuitState.Closed
    this.#breaker = circuitBreaker(handleAll, {
      halfOpenAfter: opts.breaker.halfOpenAfter,
      breaker: new ConsecutiveBreaker(opts.breaker.threshold)
    })
    this.#breaker.onBreak(() => {
      this.#openedAt = Date.now()
      this.#log.warn({ channel: this.name, halfOpenAfter: opts.breaker.halfOpenAfter }, 'channel circuit breaker opened: writes fail over to other channels')
    })
    this.#breaker.onReset(() => this.#log.info({ channel: this.name }, 'channel circuit breaker closed'))
    this.#backoffs = new ExponentialBackoff({ initialDelay: opts.reconnect.initialDelay, maxDelay: opts.reconnect.maxDelay })
  }

  /** Where the channel is now. */
  get state (): ChannelState {
    return this.#state
  }

  /** True when a frame written now would be sent: connected and the breaker lets it through. */
  get usable (): boolean {
    if (this.#state !== 'connected') return false
    return breakerStateName(this.#breaker.state) !== 'open' || Date.now() - this.#openedAt >= this.#opts.breaker.halfOpenAfter
  }

  /** The current connection, if any (diagnostics and tests). */
  get connection (): Socket | null {
    return this.#socket
  }

  /** A snapshot of the counters. */
  stats (): ChannelStats {
    return { state: this.#state, breaker: breakerStateName(this.#breaker.state), ...this.#stats }
  }

  /** Begin connecting (once). */
  start (): void {
    if (this.#started) return
    this.#started = true
    this.#connect()
  }

  /**
   * Resolves once the channel is connected; rejects when it gives up, is
   * closed, or is not connected within `timeout` milliseconds.
   */
  async connected (timeout: number): Promise<void> {
    if (this.#state === 'connected') return
    if (this.#state === 'failed' || this.#state === 'closed') throw new Error(this.#why(this.#state))
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error): void => {
        clearTimeout(timer)
        this.off('state', onState)
        if (err === undefined) resolve()
        else reject(err)
      }
      const onState = (state: ChannelState): void => {
        if (state === 'connected') done()
        else if (state === 'failed' || state === 'closed') done(new Error(this.#why(state)))
      }
      const timer = setTimeout(() => done(new Error(`not connected within ${timeout} ms${this.#lastError === null ? '' : ` (last error: ${this.#lastError})`}`)), timeout)
      this.on('state', onState)
    })
  }

  #why (state: ChannelState): string {
    return `the channel is ${state}${this.#lastError === null ? '' : ` (${this.#lastError})`}`
  }

  /**
   * Queue one envelope (JSON text) as a format-1 frame.
   *
   * @returns false when the channel cannot take it now (not connected, breaker
   * open): the caller sends it elsewhere. After `true`, `onLost` runs if the
   * frame could not be handed to the OS after all (the connection broke first).
   */
  send (json: string, onLost?: (err: Error) => void): boolean {
    const socket = this.#socket
    if (socket === null || !this.usable) return false
    const frame = encodeFrame(json)
    if (this.#breaker.state !== this.#closedState || this.#failing) {
      // Open, half-open, or failures not yet cleared by a success: the breaker
      // sees this write, which may be the trial that closes it.
      this.#breaker.execute(() => new Promise<void>((resolve, reject) => {
        this.#write(socket, frame, (err) => { if (err == null) resolve(); else reject(err) })
      })).then(() => { this.#failing = false }, (err: Error) => this.#lost(err, onLost))
      return true
    }
    // Healthy: no promise per frame; only a failure is reported to the breaker.
    this.#write(socket, frame, (err) => {
      if (err == null) return
      this.#failing = true
      this.#breaker.execute(() => { throw err }).catch(() => {})
      this.#lost(err, onLost)
    })
    return true
  }

  #lost (err: Error, onLost: ((err: Error) => void) | undefined): void {
    this.#stats.errors++
    onLost?.(err)
  }

  /** Close for good: no reconnect. Pending writes are flushed first (bounded). */
  async close (): Promise<void> {
    if (this.#state === 'closed') return
    this.#setState('closed')
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer)
    this.#clearPartialTimer()
    const socket = this.#socket
    if (socket === null || socket.destroyed) return
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
    socket.end()
    const timer = setTimeout(() => socket.destroy(), 1_000)
    await closed
    clearTimeout(timer)
  }

  #write (socket: Socket, frame: Buffer, done: (err?: Error | null) => void): void {
    if (!this.#corked) {
      // Frames of one tick leave in one writev.
      this.#corked = true
      socket.cork()
      process.nextTick(() => {
        this.#corked = false
        socket.uncork()
      })
    }
    this.#stats.framesOut++
    this.#stats.bytesOut += frame.length
    socket.write(frame, done)
    if (!this.#pausedForPressure && socket.writableLength > this.#opts.highWaterBytes) {
      // Stop taking work while the orchestrator is not reading (docs/reliability.md H3).
      this.#pausedForPressure = true
      socket.pause()
    }
  }

  #setState (state: ChannelState): void {
    if (this.#state === state) return
    this.#state = state
    this.emit('state', state)
  }

  #connect (): void {
    const t = this.#opts.target
    let socket: Socket
    if (t.kind === 'unix') {
      socket = netConnect({ path: t.path })
    } else if (t.tls) {
      socket = tlsConnect({ host: t.host, port: t.port, ...(isIP(t.host) === 0 ? { servername: t.host } : {}), ...this.#opts.tls })
    } else {
      socket = netConnect({ host: t.host, port: t.port })
    }
    this.#socket = socket
    let error: Error | null = null
    const timer = setTimeout(() => socket.destroy(new Error(`no connection within ${this.#opts.connectTimeout} ms`)), this.#opts.connectTimeout)
    socket.once(t.kind === 'tcp' && t.tls ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer)
      this.#attach(socket)
    })
    socket.on('error', (err) => { error = err })
    socket.once('close', () => {
      clearTimeout(timer)
      this.#onClose(socket, error)
    })
  }

  #attach (socket: Socket): void {
    if (this.#state === 'closed') {
      socket.destroy()
      return
    }
    if (this.#opts.target.kind === 'tcp') socket.setNoDelay(true)
    this.#failures = 0
    this.#backoff = undefined
    this.#lastError = null
    if (this.#stats.connects > 0) this.#stats.reconnects++
    this.#stats.connects++
    this.#pausedForPressure = false
    this.#reader = new FrameReader(this.#opts.maxFrameBytes, {
      onFrame: (format, payload) => this.#onFrame(format, payload),
      onFault: (err) => this.#fault(socket, err.message)
    })
    socket.on('data', (chunk: Buffer) => this.#onData(socket, chunk))
    socket.on('drain', () => {
      if (this.#pausedForPressure && socket.writableLength <= this.#opts.highWaterBytes) {
        this.#pausedForPressure = false
        socket.resume()
      }
    })
    this.#log.info({ channel: this.name, reconnect: this.#stats.reconnects > 0 }, 'channel connected')
    this.#setState('connected')
    if (this.#opts.identifyAs !== null) {
      // Rust cannot serialise identify; this is the assumed shape of docs/protocol.md §4.4.
      this.send(encodeEnvelope({ op: 'identify', module_id: this.#opts.identifyAs }))
    }
  }

  #onData (socket: Socket, chunk: Buffer): void {
    if (socket !== this.#socket || this.#reader === null) return
    this.#stats.bytesIn += chunk.length
    this.#reader.push(chunk)
    if (this.#reader.pendingBytes === 0) {
      this.#clearPartialTimer()
    } else if (this.#partialTimer === null) {
      // A peer that starts a frame and stops (slow drip) would hold its buffer forever.
      this.#partialTimer = setTimeout(() => {
        this.#partialTimer = null
        this.#fault(socket, `a frame stayed incomplete for ${this.#opts.partialFrameTimeout} ms`)
      }, this.#opts.partialFrameTimeout)
      this.#partialTimer.unref()
    }
  }

  #onFrame (format: FrameFormat, payload: Buffer): void {
    this.#stats.framesIn++
    let message: OrchestratorMessage
    try {
      message = decodeOrchestratorFrame(format, payload)
    } catch (err) {
      this.#stats.malformed++
      // The payload itself is never logged: it may carry a secret value.
      this.#log.warn({ channel: this.name, err: { message: (err as Error).message }, bytes: payload.length }, 'skipped a malformed frame')
      this.#emitSafely('invalid', format === 3 ? '' : payload.toString('utf8'), err)
      return
    }
    // The frame's size goes along: buffered messages are capped by bytes too.
    this.#emitSafely('message', message, payload.length)
  }

  #emitSafely (event: string, ...args: unknown[]): void {
    emitGuarded(this, event, args, (err) => {
      this.#stats.handlerErrors++
      this.#log.error({ err, channel: this.name, event }, 'a channel message handler threw')
    })
  }

  #fault (socket: Socket, reason: string): void {
    this.#stats.errors++
    this.#log.error({ channel: this.name, reason }, 'framing error: dropping the channel connection')
    this.#lastError = reason
    socket.destroy()
  }

  #clearPartialTimer (): void {
    if (this.#partialTimer !== null) {
      clearTimeout(this.#partialTimer)
      this.#partialTimer = null
    }
  }

  #onClose (socket: Socket, error: Error | null): void {
    if (socket !== this.#socket) return
    this.#socket = null
    this.#reader = null
    this.#clearPartialTimer()
    if (this.#state === 'closed') return
    if (error !== null) this.#lastError = error.message
    if (this.#state === 'connected') {
      this.#stats.errors++
      this.#log.warn({ channel: this.name, reason: this.#lastError ?? 'closed by the peer' }, 'channel connection lost')
    }
    this.#failures++
    if (this.#failures > this.#opts.reconnect.maxAttempts) {
      this.#log.error({ channel: this.name, attempts: this.#opts.reconnect.maxAttempts, reason: this.#lastError }, 'channel given up after repeated connection failures')
      this.#setState('failed')
      return
    }
    this.#backoff = this.#backoff === undefined ? this.#backoffs.next() : this.#backoff.next(undefined)
    const delay = this.#backoff.duration
    this.#log.debug({ channel: this.name, delay, attempt: this.#failures }, 'channel reconnecting')
    this.#setState('reconnecting')
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null
      this.#connect()
    }, delay)
    // Reconnecting alone must not keep a finished process alive.
    this.#retryTimer.unref()
  }
}
