import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { decodeModuleEnvelope, decodeModuleMessage } from '../lib/protocol/index.js'
import { startWithChannels } from './fixtures/channel-load.js'
import { percentile, startModule, stopModule, type IpcPeer, type IpcRequest, type LoadOptions, type LoadResult } from './fixtures/ipc-load.js'
import { CONNECTIONS, LOG_LEVEL, SECRETS, cases, httpLoad, measureRounds, rps, sameBytes, type Aggregate, type Case, type Sampling } from './http.js'
import { median, ms, percent, ratio, type Row, type Section } from './report.js'

/**
 * The metrics sub-plugin (issue 16, "Performance"), on the lean module of
 * fixtures/metrics-module.ts:
 *
 * 1. Throughput of `GET /hello`, 64 in flight, with `fastify-pywatt/metrics`
 *    registered (its onResponse hook observes a histogram and a counter per
 *    request) against the same module without it, over plain HTTP
 *    (autocannon, as the http section) and over stdio (HTTP over IPC, the
 *    load generator of fixtures/ipc-load.ts). Each side is a module process of
 *    its own; a third process, also without the plugin, is the control: its
 *    ratio to the first shows how far from 1.00 two identical processes read
 *    in the same run. The three are measured in alternating order in short
 *    rounds, in `SETS` sets of fresh processes (started in alternating
 *    order, since one process's JIT state can decide a run); a row's ratio is
 *    the median of the adjacent per-round ratios of all sets. Each round also
 *    reads the module process's CPU time (Linux), so a `CPU/req` row gives
 *    the CPU per request without the plugin over that with it: on a machine
 *    other processes load, throughput swings with their CPU use; the cost of
 *    a request much less.
 * 2. A scrape: a module with the plugin and 50 routes, each requested once
 *    over plain HTTP, stdio and the TCP and Unix-socket channels (the real
 *    tunnelled path, so 50 × 4 label sets of the HTTP metrics, plus the
 *    process metrics on by default); then `app.inject('/metrics')` timed in
 *    that process, `SCRAPES` times after a warm-up. Target: p99 under 10 ms.
 */

const moduleScript = fileURLToPath(new URL('./fixtures/metrics-module.js', import.meta.url))

type Way = 'http' | 'stdio'
/** `metrics`: with the plugin; `none` and `control`: two processes without it. */
type Side = 'metrics' | 'none' | 'control'
type Transport = `${Way} ${Side}`
const WAYS: readonly Way[] = ['http', 'stdio']
const SIDES: readonly Side[] = ['metrics', 'none', 'control']
const TRANSPORTS: readonly Transport[] = WAYS.flatMap((w) => SIDES.map((s): Transport => `${w} ${s}`))

/** Fresh process sets, rounds per set and their windows: about two minutes in all. */
const SETS = 3
const SAMPLING: Sampling = { rounds: 3, durationMs: 1500 }
const WARMUP_MS = 500
const TARGET = { op: '>=', value: 0.95 } as const

const ROUTES = 50
const SCRAPES = 200
const SCRAPE_WARMUP = 20
const SCRAPE_TARGET_MS = 10

/** USER_HZ: the unit of the CPU times of /proc/<pid>/stat, 100 on the Linux systems the bench runs on. */
const CLOCK_TICKS = 100

/** CPU time (user and system) process `pid` has used, in µs; null where /proc cannot tell. */
function cpuMicros (pid: number | undefined): number | null {
  if (pid === undefined) return null
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
    const ticks = Number(fields[11]) + Number(fields[12])
    return Number.isFinite(ticks) ? ticks * 1e6 / CLOCK_TICKS : null
  } catch {
    return null
  }
}

const env = (side: Side, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv =>
  ({ ...process.env, PYWATT_LOG_LEVEL: LOG_LEVEL, PYWATT_BENCH_METRICS: side === 'metrics' ? '1' : '0', ...extra })

interface Started { peer: IpcPeer, listen: string }

/** Start one process per side, in `order`; check each answers the case with the same bytes over stdio and HTTP. */
async function startSides (order: readonly Side[], c: Case): Promise<Map<Side, Started>> {
  const started = new Map<Side, Started>()
  try {
    let expected: Uint8Array | null = null
    for (const side of order) {
      started.set(side, await startModule({ script: moduleScript, env: env(side), secrets: SECRETS }))
      const { peer, listen } = started.get(side) as Started
      const line = (await peer.probe(c.req)).line.toString('utf8')
      const reply = decodeModuleMessage(line)
      if (reply.op !== 'http_reply' || reply.content.status_code !== 200) throw new Error(`${side}: the IPC probe answered ${line.slice(0, 300)}`)
      const ipcBody = Uint8Array.from(reply.content.body ?? [])
      const res = await fetch(`http://${listen}${c.req.uri}`)
      const httpBody = new Uint8Array(await res.arrayBuffer())
      if (res.status !== 200 || !sameBytes(ipcBody, httpBody)) throw new Error(`${side}: plain HTTP answered ${res.status} with other bytes than IPC`)
      if (expected !== null && !sameBytes(expected, ipcBody)) throw new Error(`${side}: answers other bytes than ${order[0] ?? ''}`)
      expected = ipcBody
    }
    return started
  } catch (err) {
    for (const s of started.values()) await stopModule(s.peer)
    throw err
  }
}

/** Part 1: the sides' rounds over both ways, in `SETS` sets of processes. */
async function throughput (log: (line: string) => void): Promise<Row[]> {
  const c = cases().find((x) => x.key === 'get') as Case
  const opts: LoadOptions = { connections: CONNECTIONS, warmupMs: WARMUP_MS, durationMs: SAMPLING.durationMs }
  const rounds = new Map<Transport, LoadResult[]>(TRANSPORTS.map((t) => [t, []]))
  /** Per transport: the module's CPU µs per request of each round (warm-up included, as its requests are). */
  const cpu = new Map<Transport, number[]>(TRANSPORTS.map((t) => [t, []]))
  /** Per set and way: the median of that set's per-round ratios, metrics / none and control / none. */
  const setMedians: Array<Record<Way, { metrics: number, control: number }>> = []
  for (let set = 0; set < SETS; set++) {
    const order = set % 2 === 0 ? SIDES : [...SIDES].reverse()
    const sides = await startSides(order, c)
    try {
      log(`metrics     set ${set + 1} of ${SETS}: processes started in the order ${order.join(', ')}; ${c.label} byte-identical over stdio and http`)
      const measure = async (_c: Case, t: Transport): Promise<LoadResult> => {
        const [way, side] = t.split(' ') as [Way, Side]
        const { peer, listen } = sides.get(side) as Started
        const before = cpuMicros(peer.child.pid)
        const r = way === 'http' ? await httpLoad(listen, c, opts) : await peer.load(c.req, opts)
        const after = cpuMicros(peer.child.pid)
        if (before !== null && after !== null) cpu.get(t)?.push((after - before) / (r.rps * (opts.warmupMs + opts.durationMs) / 1000))
        return r
      }
      const m = (await measureRounds('metrics', [c], TRANSPORTS, measure, log, SAMPLING)).get(c.key) as Record<Transport, Aggregate>
      for (const t of TRANSPORTS) rounds.get(t)?.push(...m[t].rounds)
      const perSet = (way: Way, side: Side): number => median(roundRatios(m[`${way} ${side}`].rounds, m[`${way} none`].rounds))
      setMedians.push({
        http: { metrics: perSet('http', 'metrics'), control: perSet('http', 'control') },
        stdio: { metrics: perSet('stdio', 'metrics'), control: perSet('stdio', 'control') }
      })
    } finally {
      for (const s of sides.values()) await stopModule(s.peer)
    }
  }

  const rows: Row[] = []
  for (const way of WAYS) {
    const of = (side: Side): LoadResult[] => rounds.get(`${way} ${side}`) ?? []
    const rate = (side: Side): number => median(of(side).map((r) => r.rps))
    const range = (side: 'metrics' | 'control'): string => {
      const values = setMedians.map((s) => s[way][side])
      return `${Math.min(...values).toFixed(2)}–${Math.max(...values).toFixed(2)}x`
    }
    const withPlugin = roundRatios(of('metrics'), of('none'))
    const control = roundRatios(of('control'), of('none'))
    log(`metrics     ${c.label} over ${way}, ${SETS * SAMPLING.rounds} rounds: metrics ${rps(rate('metrics'))}  none ${rps(rate('none'))}  control ${rps(rate('control'))}`)
    log(`metrics       metrics / none ${ratio(median(withPlugin))} (rounds ${Math.min(...withPlugin).toFixed(2)}–${Math.max(...withPlugin).toFixed(2)}x, sets ${range('metrics')}, p99 ${ms(median(of('metrics').map((r) => r.p99)))} / ${ms(median(of('none').map((r) => r.p99)))})` +
      `  control / none ${ratio(median(control))} (rounds ${Math.min(...control).toFixed(2)}–${Math.max(...control).toFixed(2)}x, sets ${range('control')})`)
    rows.push({
      name: `metrics GET ${way} on/off`,
      detail: `metrics ${rps(rate('metrics'))}  none ${rps(rate('none'))}`,
      ratio: median(withPlugin),
      target: TARGET
    }, {
      // The noise band: two processes without the plugin.
      name: `metrics GET ${way} (control)`,
      detail: `none ${rps(rate('control'))}  none ${rps(rate('none'))}`,
      ratio: median(control)
    })
    const perRequest = (side: Side): number => median(cpu.get(`${way} ${side}`) ?? [])
    if (Number.isFinite(perRequest('metrics'))) {
      log(`metrics       CPU per request: metrics ${perRequest('metrics').toFixed(1)} µs  none ${perRequest('none').toFixed(1)} µs  control ${perRequest('control').toFixed(1)} µs`)
      rows.push({
        name: `metrics GET ${way} CPU/req`,
        detail: `none ${perRequest('none').toFixed(1)} µs  metrics ${perRequest('metrics').toFixed(1)} µs`,
        ratio: perRequest('none') / perRequest('metrics')
      })
    }
  }
  return rows
}

/** `a[i] / b[i]`: each round's ratio between two sides measured next to each other. */
function roundRatios (a: readonly LoadResult[], b: readonly LoadResult[]): number[] {
  return a.map((r, i) => r.rps / (b[i] as LoadResult).rps)
}

/** Part 2: 50 routes × 4 transports of series, then `app.inject('/metrics')` timed in the module. */
async function scrape (log: (line: string) => void): Promise<Row> {
  const m = await startWithChannels({ script: moduleScript, env: env('metrics', { PYWATT_BENCH_ROUTES: String(ROUTES) }), secrets: SECRETS })
  try {
    for (let i = 0; i < ROUTES; i++) {
      const req: IpcRequest = { method: 'GET', uri: `/r/${i}`, headers: {} }
      const res = await fetch(`http://${m.listen}${req.uri}`)
      await res.arrayBuffer()
      const line = (await m.peer.probe(req)).line.toString('utf8')
      const stdio = decodeModuleMessage(line)
      const tcp = decodeModuleEnvelope(await m.tcp.probe(req)).content
      const unix = decodeModuleEnvelope(await m.unix.probe(req)).content
      const ok = res.status === 200 && stdio.op === 'http_reply' && stdio.content.status_code === 200 &&
        tcp.op === 'http_response' && tcp.status_code === 200 && unix.op === 'http_response' && unix.status_code === 200
      if (!ok) throw new Error(`${req.uri}: not 200 on every transport (stdio ${line.slice(0, 200)})`)
    }
    // Every route is a series on every transport before anything is timed.
    const text = await (await fetch(`http://${m.listen}/metrics`)).text()
    const samples = text.split('\n').filter((l) => l !== '' && !l.startsWith('#'))
    const perTransport = ['http', 'stdio', 'tcp', 'unix'].map((t) => {
      const n = samples.filter((l) => l.startsWith('http_requests_total{') && l.includes(`transport="${t}"`) && /route="\/r\/\d+"/.test(l)).length
      if (n !== ROUTES) throw new Error(`${n} http_requests_total series on ${t} for /r/*, not ${ROUTES}`)
      return n
    })
    const series = perTransport.reduce((a, n) => a + n, 0)
    const res = await fetch(`http://${m.listen}/bench/scrape?n=${SCRAPES}&warmup=${SCRAPE_WARMUP}`)
    if (res.status !== 200) throw new Error(`/bench/scrape answered ${res.status}: ${await res.text()}`)
    const { times, bytes } = await res.json() as { times: number[], bytes: number }
    const mid = median(times)
    const p99 = percentile(Float64Array.from(times), times.length, 0.99)
    const max = Math.max(...times)
    log(`metrics     scrape: ${ROUTES} routes × 4 transports = ${series} label sets (${samples.length} samples, ${Math.round(bytes / 1024)} KiB, process metrics on); ` +
      `app.inject('/metrics') × ${SCRAPES} after ${SCRAPE_WARMUP}: median ${ms(mid)}  p99 ${ms(p99)}  max ${ms(max)}  (p99 ${percent(p99 / SCRAPE_TARGET_MS)} of ${SCRAPE_TARGET_MS} ms)`)
    return {
      name: `metrics scrape p99/${SCRAPE_TARGET_MS}ms`,
      detail: `median ${ms(mid)}  p99 ${ms(p99)}  ${samples.length} samples`,
      ratio: p99 / SCRAPE_TARGET_MS,
      target: { op: '<=', value: 1 }
    }
  } finally {
    await m.stop()
  }
}

export const metricsBench: Section = {
  name: 'metrics',
  async run ({ log }): Promise<Row[]> {
    if (!existsSync(moduleScript)) throw new Error(`${moduleScript} is missing: run \`npm run build\` first`)
    const rows = await throughput(log)
    rows.push(await scrape(log))
    return rows
  }
}
