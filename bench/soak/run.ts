import os from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import type { ChannelServer } from '../../lib/dev/channel-server.js'
import { DevOrchestrator, type ModuleExit } from '../../lib/dev/orchestrator.js'
import { DEFAULT_BOUNDS, judge, type Bounds, type Drift, type Series } from './judge.js'
import { httpDriver, stdioDriver, TcpLoad, TRANSPORTS, type LoadDriver, type Transport, type TransportCounts } from './load.js'
import { takeSample, type Sample } from './sample.js'

/** How long and how hard to soak the module. */
export interface SoakOptions {
  durationMs: number
  /** Samples before this are plotted but not judged (default 15 % of the run, at most 30 s). */
  warmupMs?: number
  /** The built module to run (default the example, dist/example/server.js). */
  script?: string
  /** Requests a second on each transport: HTTP, stdio, TCP channel (default 150). */
  rate?: number
  /** Requests in flight per transport (default 4). */
  workers?: number
  /** A secret rotation this often, alternating API_KEY and JWT_SECRET (default 3 s). */
  rotateEveryMs?: number
  /** The TCP channel connection dropped this often (default 5 s). */
  restartEveryMs?: number
  /** A request, rotation or reconnect not answered within this is a failure (default 10 s). */
  timeoutMs?: number
  bounds?: Partial<Bounds>
  /** Progress lines (default none). */
  log?: (line: string) => void
}

/** A rotation acked or a channel restart completed, at `t` seconds. */
export interface SoakEvent { t: number, kind: 'rotation' | 'restart' }

/** Everything a soak saw, as written to its JSON. */
export interface SoakReport {
  passed: boolean
  failures: string[]
  /** How long the load ran. */
  seconds: number
  warmupSeconds: number
  rate: number
  workers: number
  bounds: Bounds
  requests: Record<Transport, TransportCounts>
  rotations: { sent: number, acked: number }
  channelRestarts: number
  /** When each acked rotation and each completed channel restart happened, seconds since the load started. */
  events: SoakEvent[]
  heartbeats: { sent: number, acked: number }
  exit: ModuleExit | null
  drift: Record<Series['key'], Drift>
  samples: Sample[]
  machine: { node: string, cpus: string }
}

const EXAMPLE = fileURLToPath(new URL('../../example/server.js', import.meta.url))
const SECRETS = { API_KEY: 'soak-api-key-0', JWT_SECRET: 'soak-jwt-secret-0123456789abcdef-0' }
const SAMPLE_EVERY_MS = 1_000
const MAX_FAILURES = 20

/** Run `fn` every `ms` until `signal` aborts; resolves once the last run has finished. */
async function every (ms: number, signal: AbortSignal, fn: () => Promise<void>): Promise<void> {
  while (!signal.aborted) {
    try {
      await sleep(ms, undefined, { signal })
    } catch {
      return
    }
    await fn()
  }
}

/**
 * Soak the module: start it under the dev orchestrator with a TCP channel,
 * drive HTTP, stdio and TCP-channel requests at a steady rate, rotate a secret
 * and drop the channel connection at intervals, scrape its memory, handles
 * and event-loop delay every second, then stop it and judge the drift against
 * {@link Bounds}. Resolves with the report; never throws for a failed soak.
 */
export async function runSoak (opts: SoakOptions): Promise<SoakReport> {
  const log = opts.log ?? (() => {})
  const bounds = { ...DEFAULT_BOUNDS, ...opts.bounds }
  const rate = opts.rate ?? 150
  const workers = opts.workers ?? 4
  const timeoutMs = opts.timeoutMs ?? 10_000
  const warmupMs = opts.warmupMs ?? Math.min(30_000, opts.durationMs * 0.15)
  const failures: string[] = []
  const fail = (why: string): void => { if (failures.length < MAX_FAILURES) failures.push(why) }

  const dev = new DevOrchestrator({
    command: process.execPath,
    args: [opts.script ?? EXAMPLE],
    secrets: SECRETS,
    env: { ...process.env, PYWATT_LOG_LEVEL: 'warn' },
    tcpChannel: { required: true },
    heartbeatInterval: 1_000
  })
  const stderr: string[] = []
  dev.on('stderr', (line: string) => {
    stderr.push(line)
    if (stderr.length > 10) stderr.shift()
  })
  const samples: Sample[] = []
  const rotations = { sent: 0, acked: 0 }
  let restarts = 0
  const events: SoakEvent[] = []
  let exit: ModuleExit | null = null
  let drivers: LoadDriver[] = []
  let seconds = 0
  try {
    await dev.start()
    await dev.announced(timeoutMs)
    const tcp = dev.channels.tcp as ChannelServer
    await tcp.connected()
    const listen = dev.announcedListen ?? dev.listen
    const pid = dev.child.pid as number
    const tcpLoad = new TcpLoad(dev, tcp, timeoutMs)
    drivers = [httpDriver(listen, timeoutMs), stdioDriver(dev, timeoutMs), tcpLoad.driver]
    const stop = new AbortController()
    const died = (e: ModuleExit): void => {
      fail(`the module exited during the soak (${String(e.code ?? e.signal)}); last stderr lines:\n${stderr.join('\n')}`)
      stop.abort()
    }
    dev.once('exit', died)
    const t0 = performance.now()
    const elapsed = (): number => (performance.now() - t0) / 1000
    for (const d of drivers) d.start(workers, rate)
    log(`soaking ${opts.script ?? EXAMPLE} for ${opts.durationMs / 1000} s: ${rate} req/s on each of ${TRANSPORTS.join(', ')}`)
    let secret = 0
    const loops = [
      every(SAMPLE_EVERY_MS, stop.signal, async () => {
        try {
          samples.push(await takeSample(listen, pid, elapsed()))
        } catch (err) {
          fail(`sample at ${elapsed().toFixed(0)} s: ${(err as Error).message}`)
        }
        // The dev orchestrator keeps every module line; a long soak must not grow this process.
        dev.messages.splice(0)
      }),
      every(opts.rotateEveryMs ?? 3_000, stop.signal, async () => {
        const name = secret++ % 2 === 0 ? 'API_KEY' : 'JWT_SECRET'
        rotations.sent++
        try {
          const ack = await dev.rotate(name, `${SECRETS[name]}-rotated-${rotations.sent}`, timeoutMs)
          if (ack.status === 'success') {
            rotations.acked++
            events.push({ t: elapsed(), kind: 'rotation' })
          } else fail(`rotation of ${name}: acked ${ack.status} ${ack.message ?? ''}`)
        } catch (err) {
          fail(`rotation of ${name}: ${(err as Error).message}`)
        }
      }),
      every(opts.restartEveryMs ?? 5_000, stop.signal, async () => {
        try {
          await tcpLoad.restart(timeoutMs)
          restarts++
          events.push({ t: elapsed(), kind: 'restart' })
        } catch (err) {
          fail(`channel restart: ${(err as Error).message}`)
        }
      })
    ]
    const end = setTimeout(() => stop.abort(), opts.durationMs)
    await Promise.all(loops)
    clearTimeout(end)
    await Promise.all(drivers.map(async (d) => { await d.stop() }))
    seconds = elapsed()
    log(`load stopped after ${seconds.toFixed(1)} s; stopping the module`)
    dev.off('exit', died)
    if (dev.exited === null) {
      exit = await dev.shutdown(timeoutMs)
      if (exit.code !== 0) fail(`the module stopped with ${String(exit.code ?? exit.signal)} on shutdown, not 0`)
    }
  } catch (err) {
    fail(`${(err as Error).message}; last stderr lines:\n${stderr.join('\n')}`)
  } finally {
    dev.kill()
  }

  const requests = Object.fromEntries(drivers.map((d) => [d.transport, d.counts])) as Record<Transport, TransportCounts>
  for (const d of drivers) {
    const c = d.counts
    if (c.failed > 0) fail(`${d.transport}: ${c.failed} requests failed (${c.errors.join('; ')})`)
    if (c.unanswered > 0) fail(`${d.transport}: ${c.unanswered} requests unanswered within ${timeoutMs} ms`)
  }
  // The last heartbeat may be in flight when the module stops.
  if (dev.heartbeats.acked < dev.heartbeats.sent - 1) fail(`heartbeats: ${dev.heartbeats.acked} of ${dev.heartbeats.sent} acked`)
  const verdict = judge(samples, warmupMs / 1000, bounds)
  failures.push(...verdict.failures)
  const cpus = os.cpus()
  return {
    passed: failures.length === 0,
    failures,
    seconds,
    warmupSeconds: warmupMs / 1000,
    rate,
    workers,
    bounds,
    requests,
    rotations,
    channelRestarts: restarts,
    events,
    heartbeats: { ...dev.heartbeats },
    exit,
    drift: verdict.drift,
    samples,
    machine: { node: process.version, cpus: `${cpus.length} x ${cpus[0]?.model.trim() ?? 'unknown cpu'}` }
  }
}
