import type { Readable, Writable } from 'node:stream'
import { EventEmitter } from 'node:events'
import type { FastifyBaseLogger } from 'fastify'
import { ERR_PYWATT_INIT } from '../errors.js'
import {
  decodeHttpRequestBytes, decodeInit, decodeOrchestratorMessage, encodeHttpReply, encodeHttpReplyParts, encodeModuleMessage,
  type HttpReply, type InitBlob, type ModuleMessage, type OrchestratorMessage
} from '../protocol/index.js'
import { OpRouter } from './op-router.js'
import { OpCounts } from './op-counts.js'
import { emitGuarded } from './guarded-emit.js'
import { LineSplitter, type LineFault } from './line-splitter.js'
import { ProtocolWriter } from './writer.js'

/** Reply bodies from this many bytes on are written as bytes, never as a string. */
const LARGE_BODY = 4096

/** Limits of a {@link StdioChannel}; every one is configurable through the plugin options. */
export interface StdioLimits {
  /** Cap of the Init line, newline excluded (docs/protocol.md §3.2: 1 MiB). */
  maxInitBytes: number
  /** Cap of every later line; a longer one is dropped and logged. */
  maxLineBytes: number
  /** How long to wait for the Init line, in milliseconds. */
  initTimeout: number
  /** Outbound bytes above which stdin is paused until stdout drains. */
  highWaterBytes: number
  /** Outbound bytes above which non-essential lines are refused. */
  maxQueuedBytes: number
  /** Messages kept for consumers that have not registered yet. */
  maxBufferedMessages: number
  /** Bytes of those messages (as read from the wire). */
  maxBufferedBytes: number
  /** A line left incomplete this long is reported once (a stuck writer upstream). */
  partialLineWarning: number
}

/** Default limits. */
export const DEFAULT_LIMITS: StdioLimits = {
  maxInitBytes: 1024 * 1024,
  maxLineBytes: 64 * 1024 * 1024,
  initTimeout: 30_000,
  highWaterBytes: 16 * 1024 * 1024,
  maxQueuedBytes: 64 * 1024 * 1024,
  maxBufferedMessages: 100_000,
  maxBufferedBytes: 64 * 1024 * 1024,
  partialLineWarning: 10_000
}

/** Counters of what came in, for logs, tests and the README figures. */
export interface InputStats {
  lines: number
  dispatched: number
  malformed: number
  oversize: number
  invalidUtf8: number
  empty: number
  /** Messages and events whose consumer threw (logged; the module carries on). */
  handlerErrors: number
}

/**
 * The orchestrator link over stdin/stdout: one reader, one op router, one writer
 * (docs/protocol.md §3.1, §3.4). The Init line and every later line go through the same
 * byte-level splitter, so no byte after the Init line is lost or read twice.
 *
 * Events: `eof` (stdin ended: the orchestrator is gone or done),
 * `output-closed` (stdout is unusable, e.g. EPIPE), `invalid` (a line that
 * failed to decode, with the decode error). A listener that throws is logged
 * and counted in `stats.handlerErrors`, as is an op router consumer that throws.
 */
export class StdioChannel extends EventEmitter {
  readonly router: OpRouter<OrchestratorMessage>
  readonly writer: ProtocolWriter
  readonly stats: InputStats = { lines: 0, dispatched: 0, malformed: 0, oversize: 0, invalidUtf8: 0, empty: 0, handlerErrors: 0 }
  /** Decoded messages received, by op. */
  readonly received = new OpCounts()
  /** Messages handed to the writer, by op (`http_response` for HTTP replies); a line the writer then drops is in `writer.stats.dropped`. */
  readonly sent = new OpCounts()
  readonly #input: Readable
  readonly #limits: StdioLimits
  readonly #log: FastifyBaseLogger
  readonly #splitter: LineSplitter
  #init: { resolve: (init: InitBlob) => void, reject: (err: Error) => void } | null = null
  #initDone = false
  #reading = false
  #ended = false
  #partialTimer: NodeJS.Timeout | null = null

  constructor (input: Readable, output: Writable, limits: StdioLimits, log: FastifyBaseLogger) {
    super()
    this.#input = input
    this.#limits = limits
    this.#log = log
    this.writer = new ProtocolWriter(output, limits)
    this.router = new OpRouter({ messages: limits.maxBufferedMessages, bytes: limits.maxBufferedBytes }, (op, count, reason) => {
      this.#log.warn({ op, count, reason }, reason === 'sealed'
        ? 'no consumer for this op: message dropped'
        : 'too many messages waiting for a consumer: message dropped')
    }, (err, message) => this.#handlerThrew(err, { op: message.op }))
    this.#splitter = new LineSplitter(limits.maxInitBytes, {
      onLine: (line) => this.#onLine(line),
      onRawLine: (bytes) => this.#onRawLine(bytes),
      onFault: (fault) => this.#onFault(fault)
    })
    this.writer.on('pressure', () => this.#input.pause())
    this.writer.on('drain', () => { if (this.#reading) this.#input.resume() })
    this.writer.on('closed', (reason: string) => this.#emit('output-closed', reason))
  }

  /** True once stdin ended. */
  get ended (): boolean {
    return this.#ended
  }

  /**
   * Start reading and resolve with the Init blob of the first line.
   * Rejects with `FST_PYWATT_INIT` on EOF, timeout, an oversize or invalid line.
   */
  readInit (): Promise<InitBlob> {
    const promise = new Promise<InitBlob>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#failInit(`no Init line within ${this.#limits.initTimeout} ms`)
      }, this.#limits.initTimeout)
      timer.unref()
      this.#init = {
        resolve: (init) => { clearTimeout(timer); resolve(init) },
        reject: (err) => { clearTimeout(timer); reject(err) }
      }
    })
    this.#startReading()
    return promise
  }

  /** Encode and queue one message. See {@link ProtocolWriter.send} for `essential`. */
  send (message: ModuleMessage, essential = false): void {
    this.writer.send(encodeModuleMessage(message), essential)
    this.sent.add(message.op)
  }

  /**
   * Queue the `{content, metadata}` reply to an `http_request` (docs/protocol.md
   * §9.2). Replies are owed to the orchestrator: they bypass the queue cap.
   */
  sendHttpReply (reply: HttpReply, source: string): void {
    // A small reply is cheaper as one string than as three writes.
    if ((reply.body?.length ?? 0) < LARGE_BODY) this.writer.send(encodeHttpReply(reply, source), true)
    else this.writer.sendParts(encodeHttpReplyParts(reply, source), true)
    this.sent.add('http_response')
  }

  /** Stop reading stdin (shutdown): later lines are not dispatched. */
  stopReading (): void {
    if (!this.#reading) return
    this.#reading = false
    this.#input.off('data', this.#onData)
    this.#input.pause()
    this.#clearPartialTimer()
  }

  #startReading (): void {
    this.#reading = true
    this.#input.on('data', this.#onData)
    this.#input.once('end', this.#onEnd)
    this.#input.once('error', this.#onEnd)
    this.#input.resume()
  }

  readonly #onData = (chunk: Buffer | string): void => {
    this.#splitter.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)
    if (!this.#initDone && this.#splitter.discarding) {
      this.#failInit(`the Init line is longer than ${this.#limits.maxInitBytes} bytes`)
      return
    }
    if (this.#splitter.pendingBytes > 0) {
      if (this.#partialTimer === null) {
        this.#partialTimer = setTimeout(() => {
          this.#log.warn({ bytes: this.#splitter.pendingBytes }, 'a protocol line has been incomplete for a while; waiting for its newline')
        }, this.#limits.partialLineWarning)
        this.#partialTimer.unref()
      }
    } else {
      this.#clearPartialTimer()
    }
  }

  readonly #onEnd = (): void => {
    if (this.#ended) return
    this.#splitter.end()
    this.#ended = true
    this.#clearPartialTimer()
    if (!this.#initDone) this.#failInit('stdin closed before the Init line arrived')
    this.#emit('eof')
  }

  #clearPartialTimer (): void {
    if (this.#partialTimer !== null) {
      clearTimeout(this.#partialTimer)
      this.#partialTimer = null
    }
  }

  #failInit (reason: string): void {
    if (this.#initDone) return
    this.#initDone = true
    this.stopReading()
    this.#init?.reject(new ERR_PYWATT_INIT(reason))
  }

  #onLine (line: string): void {
    if (!this.#reading) return
    this.stats.lines++
    if (!this.#initDone) {
      this.#initDone = true
      this.#splitter.maxLineBytes = this.#limits.maxLineBytes
      let init: InitBlob
      try {
        init = decodeInit(line)
      } catch (err) {
        this.stopReading()
        this.#init?.reject(new ERR_PYWATT_INIT((err as Error).message))
        return
      }
      this.#init?.resolve(init)
      return
    }
    if (line.trim().length === 0) {
      this.stats.empty++
      return
    }
    let message: OrchestratorMessage
    try {
      message = decodeOrchestratorMessage(line)
    } catch (err) {
      this.stats.malformed++
      // The line itself is never logged: it may carry a secret value.
      this.#log.warn({ err: { message: (err as Error).message }, bytes: Buffer.byteLength(line) }, 'skipped a malformed protocol line')
      // A consumer may still owe an answer (an `http_request` whose id is readable).
      this.#emit('invalid', line, err)
      return
    }
    this.#dispatch(message, line.length)
  }

  /** An `http_request` with a body, read from its bytes (the common large line); anything else is left to {@link #onLine}. */
  #onRawLine (bytes: Buffer): boolean {
    if (!this.#initDone || !this.#reading) return false
    const message = decodeHttpRequestBytes(bytes)
    if (message === null) return false
    this.stats.lines++
    this.#dispatch(message, bytes.length)
    return true
  }

  #dispatch (message: OrchestratorMessage, bytes: number): void {
    this.stats.dispatched++
    this.received.add(message.op)
    this.router.dispatch(message, bytes)
  }

  #emit (event: string, ...args: unknown[]): void {
    emitGuarded(this, event, args, (err) => this.#handlerThrew(err, { event }))
  }

  #handlerThrew (err: unknown, consumer: { op: string } | { event: string }): void {
    this.stats.handlerErrors++
    this.#log.error({ err, ...consumer }, 'a protocol message handler threw')
  }

  #onFault (fault: LineFault): void {
    if (fault.kind === 'oversize') {
      this.stats.oversize++
      if (!this.#initDone) {
        this.#failInit(`the Init line is longer than ${fault.limit} bytes`)
        return
      }
      this.#log.error({ bytes: fault.bytes, limit: fault.limit }, 'dropped a protocol line longer than the line cap')
    } else {
      this.stats.invalidUtf8++
      if (!this.#initDone) {
        this.#failInit('the Init line is not valid UTF-8')
        return
      }
      this.#log.warn({ bytes: fault.bytes }, 'skipped a protocol line that is not valid UTF-8')
    }
  }
}
