import type { Registry } from 'prom-client'
import { collected, type Sample } from './collected.js'
import type { CacheStats } from '../cache/types.js'
import type { ChannelSet } from '../channels/channel-set.js'
import type { StderrSinkStats } from '../logging/stderr-sink.js'
import type { SecretStore } from '../secrets/store.js'
import type { StdioChannel } from '../transport/stdio-channel.js'
import type { ChannelState, ChannelStats } from '../transport/socket-channel.js'
import type { BreakerState } from '../resilience/cockatiel.js'

/** Where the scrape-time metrics read their counters; nothing here runs per request. */
export interface RuntimeSources {
  moduleId: string
  stdio: StdioChannel | null
  channels: ChannelSet
  secrets: SecretStore
  /** HTTP over IPC: requests running and waiting, and replies by outcome (absent without the sub-plugin). */
  ipcHttp: () => { load: { readonly inFlight: number, readonly queued: number } | null, replies: IpcHttpReplies | undefined }
  /** The cache, if the module has one (reading it must not open anything). */
  cache: () => { kind: string, stats: CacheStats } | undefined
  /** The shared stderr sink's counters, `null` while it is unused. */
  stderr: () => Readonly<StderrSinkStats> | null
}

/** `fastify.pywatt.ipcHttp`. */
export interface IpcHttpReplies {
  served: number
  badRequest: number
  failed: number
  unavailable: number
  duplicates: number
  timedOut: number
  shed: number
}

const CHANNEL_STATES: readonly ChannelState[] = ['connecting', 'connected', 'reconnecting', 'failed', 'closed']
const BREAKER_STATES: readonly BreakerState[] = ['closed', 'open', 'half-open']
/** The `channel` label: the Init blob's `ipc` channel is a Unix socket, named as the `transport` label names it. */
const SOCKET_LABEL = { tcp: 'tcp', ipc: 'unix' } as const

const one = (value: number): Sample[] => [[{}, value]]

/**
 * The protocol, channel, HTTP-over-IPC, cache, secret and log-sink metrics,
 * read from the counters those parts keep anyway. Returns the metric names.
 */
export function defineRuntimeMetrics (registry: Registry, src: RuntimeSources): string[] {
  const names: string[] = []
  const add = (kind: 'counter' | 'gauge', name: string, help: string, labelNames: readonly string[], read: () => Iterable<Sample>): void => {
    names.push(collected(registry, kind, name, help, labelNames, read))
  }
  const { stdio, channels } = src

  add('gauge', 'pywatt_module_info', 'The module this process serves (always 1).', ['module_id'], () => [[{ module_id: src.moduleId }, 1]])

  // Every link, stdio included, under one `channel` label.
  const sockets = (): Array<[string, ChannelStats]> => {
    const list: Array<[string, ChannelStats]> = []
    for (const name of ['tcp', 'ipc'] as const) {
      const socket = channels.get(name)
      if (socket !== undefined) list.push([SOCKET_LABEL[name], socket.stats()])
    }
    return list
  }
  const perLink = (fromStdio: ((s: StdioChannel) => number) | null, fromSocket: (s: ChannelStats) => number) => (): Sample[] => {
    const samples: Sample[] = []
    if (stdio !== null && fromStdio !== null) samples.push([{ channel: 'stdio' }, fromStdio(stdio)])
    for (const [channel, stats] of sockets()) samples.push([{ channel }, fromSocket(stats)])
    return samples
  }
  add('gauge', 'pywatt_channel_up', 'Whether the link to the orchestrator is connected (1) or not (0).', ['channel'],
    perLink((s) => s.writer.closedReason === null ? 1 : 0, (s) => s.state === 'connected' ? 1 : 0))
  add('counter', 'pywatt_channel_frames_received_total', 'Frames (stdio: lines) received from the orchestrator.', ['channel'],
    perLink((s) => s.stats.lines, (s) => s.framesIn))
  add('counter', 'pywatt_channel_frames_sent_total', 'Frames (stdio: lines) written to the orchestrator.', ['channel'],
    perLink((s) => s.writer.stats.lines, (s) => s.framesOut))
  add('counter', 'pywatt_channel_sent_bytes_total', 'Bytes written to the orchestrator.', ['channel'],
    perLink((s) => s.writer.stats.bytes, (s) => s.bytesOut))
  add('counter', 'pywatt_channel_received_bytes_total', 'Bytes received on a socket channel (stdio does not count them).', ['channel'],
    perLink(null, (s) => s.bytesIn))
  add('counter', 'pywatt_channel_malformed_frames_total', 'Received frames (stdio: lines) that were not a valid message, skipped.', ['channel'],
    perLink((s) => s.stats.malformed, (s) => s.malformed))
  add('counter', 'pywatt_channel_handler_errors_total', 'Received messages whose consumer threw (logged; the module carried on).', ['channel'],
    perLink((s) => s.stats.handlerErrors, (s) => s.handlerErrors))

  // Protocol messages by op: ops are those of decoded messages (a closed set) and of the module's own.
  add('counter', 'pywatt_messages_received_total', 'Decoded orchestrator messages received, by channel and op.', ['channel', 'op'], () => {
    const samples: Sample[] = []
    if (stdio !== null) for (const [op, n] of stdio.received.entries()) samples.push([{ channel: 'stdio', op }, n])
    for (const name of ['tcp', 'ipc'] as const) {
      const counts = channels.received(name)
      if (counts !== undefined) for (const [op, n] of counts.entries()) samples.push([{ channel: SOCKET_LABEL[name], op }, n])
    }
    return samples
  })
  add('counter', 'pywatt_messages_sent_total', 'Messages written to stdout, by op (http_response for HTTP replies).', ['op'], () => {
    const samples: Sample[] = []
    if (stdio !== null) for (const [op, n] of stdio.sent.entries()) samples.push([{ op }, n])
    return samples
  })

  // Socket channels only.
  add('counter', 'pywatt_channel_errors_total', 'Framing errors, lost connections and failed writes of a socket channel.', ['channel'],
    perLink(null, (s) => s.errors))
  add('counter', 'pywatt_channel_connects_total', 'Successful connections of a socket channel, the first included.', ['channel'],
    perLink(null, (s) => s.connects))
  add('counter', 'pywatt_channel_reconnects_total', 'Successful connections of a socket channel after a lost one.', ['channel'],
    perLink(null, (s) => s.reconnects))
  add('gauge', 'pywatt_channel_state', 'The state of a socket channel: 1 for the current state, 0 for the others.', ['channel', 'state'], () => {
    const samples: Sample[] = []
    for (const [channel, stats] of sockets()) {
      for (const state of CHANNEL_STATES) samples.push([{ channel, state }, stats.state === state ? 1 : 0])
    }
    return samples
  })
  add('gauge', 'pywatt_channel_breaker_state', "The state of a socket channel's circuit breaker: 1 for the current state, 0 for the others.", ['channel', 'state'], () => {
    const samples: Sample[] = []
    for (const [channel, stats] of sockets()) {
      for (const state of BREAKER_STATES) samples.push([{ channel, state }, stats.breaker === state ? 1 : 0])
    }
    return samples
  })
  add('counter', 'pywatt_channel_failovers_total', 'Messages sent on another channel than the first choice.', [], () => one(channels.stats().failovers))

  // Stdio only.
  if (stdio !== null) {
    add('counter', 'pywatt_stdio_messages_dispatched_total', 'Decoded stdin messages handed to their consumer.', [], () => one(stdio.stats.dispatched))
    add('counter', 'pywatt_stdio_lines_rejected_total', 'Stdin lines skipped before decoding, by reason (empty, oversize, invalid_utf8).', ['reason'], () => [
      [{ reason: 'empty' }, stdio.stats.empty],
      [{ reason: 'oversize' }, stdio.stats.oversize],
      [{ reason: 'invalid_utf8' }, stdio.stats.invalidUtf8]
    ])
    add('counter', 'pywatt_stdio_lines_dropped_total', 'Outbound stdout lines refused: stdout was gone, or over maxQueuedBytes.', [], () => one(stdio.writer.stats.dropped))
    add('gauge', 'pywatt_stdio_queued_bytes', 'Outbound bytes handed to stdout and not yet accepted by the OS.', [], () => one(stdio.writer.queuedBytes))
    add('gauge', 'pywatt_stdio_buffered_messages', 'Stdin messages kept for a consumer that has not registered yet.', [], () => one(stdio.router.bufferedCount))
  }

  // HTTP over IPC: 0 without the sub-plugin.
  add('gauge', 'pywatt_ipc_http_requests_in_flight', 'HTTP-over-IPC requests running now.', [], () => {
    const load = src.ipcHttp().load
    return load === null ? [] : one(load.inFlight)
  })
  add('gauge', 'pywatt_ipc_http_requests_queued', 'HTTP-over-IPC requests waiting for a free slot (concurrency).', [], () => {
    const load = src.ipcHttp().load
    return load === null ? [] : one(load.queued)
  })
  add('counter', 'pywatt_ipc_http_requests_total', 'HTTP-over-IPC requests by outcome: served, bad_request (400), failed (500), unavailable (503, stopping), duplicate (ignored), timed_out (504), shed (503, overloaded or queue full).', ['outcome'], () => {
    const r = src.ipcHttp().replies
    return r === undefined
      ? []
      : [
          [{ outcome: 'served' }, r.served],
          [{ outcome: 'bad_request' }, r.badRequest],
          [{ outcome: 'failed' }, r.failed],
          [{ outcome: 'unavailable' }, r.unavailable],
          [{ outcome: 'duplicate' }, r.duplicates],
          [{ outcome: 'timed_out' }, r.timedOut],
          [{ outcome: 'shed' }, r.shed]
        ]
  })

  // Cache.
  const cache = (read: (s: CacheStats) => number | null) => (): Sample[] => {
    const c = src.cache()
    if (c === undefined) return []
    const value = read(c.stats)
    return value === null ? [] : [[{ backend: c.kind }, value]]
  }
  add('counter', 'pywatt_cache_hits_total', 'Cache reads that found their key.', ['backend'], cache((s) => s.hits))
  add('counter', 'pywatt_cache_misses_total', 'Cache reads that did not find their key.', ['backend'], cache((s) => s.misses))
  add('counter', 'pywatt_cache_sets_total', 'Cache writes.', ['backend'], cache((s) => s.sets))
  add('counter', 'pywatt_cache_deletes_total', 'Cache deletions.', ['backend'], cache((s) => s.deletes))
  add('counter', 'pywatt_cache_evictions_total', 'Entries pushed out by the size caps (memory backend only).', ['backend'], cache((s) => s.evictions))

  // Secrets and the log sink.
  add('counter', 'pywatt_secrets_ignored_unsolicited_total', 'Unsolicited secret lines ignored: the module has no use for their name.', [], () => one(src.secrets.ignoredUnsolicited))
  add('gauge', 'pywatt_secret_requests_pending', 'get_secret requests waiting for the orchestrator.', [], () => one(src.secrets.pendingCount))
  add('counter', 'pywatt_stderr_lines_written_total', 'Log lines the stderr reader accepted.', [], () => {
    const s = src.stderr()
    return s === null ? [] : one(s.written)
  })
  add('counter', 'pywatt_stderr_lines_dropped_total', 'Log lines given up: the stderr reader was gone, or too far behind.', [], () => {
    const s = src.stderr()
    return s === null ? [] : one(s.dropped)
  })
  return names
}
