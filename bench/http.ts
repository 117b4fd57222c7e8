import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { setImmediate as immediate } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import type { FastifyInstance } from 'fastify'
import { decodeModuleMessage } from '../lib/protocol/index.js'
import { IpcPeer, percentile, startModule, stopModule, type IpcRequest, type LoadOptions, type LoadResult } from './fixtures/ipc-load.js'
import { median, ms, percent, rate, ratio, spread, type Row, type Section } from './report.js'

/**
 * HTTP over IPC (issue 3, "Performance"): on the built example module and the
 * same routes, in one run, for a small JSON GET (`/hello`) and a 16 KiB JSON
 * POST echo (`/api/echo`), with 64 requests in flight:
 *
 * - http: plain HTTP on the module's own listener (the Init `listen`), driven
 *   by autocannon in this process;
 * - ipc: `http_request` lines on the same module's stdin, replies read from its
 *   stdout, by the lean load generator of fixtures/ipc-load.ts in this process;
 * - ceiling: the same load generator against fixtures/canned-child.js, a
 *   protocol child with no Fastify: it splits its stdin into lines, parses each
 *   as JSON for its request_id and answers with a reply line of the module's
 *   size, written as the module's writer writes (one writev per tick);
 * - inject: `app.inject()` on the example app built in this process (reference).
 *
 * The module runs with PYWATT_LOG_LEVEL=warn (also the in-process app): at the
 * default `info` every request writes two log lines to stderr in every
 * transport, which measures the logger (its own section), not the transport.
 * Each measurement is a warm-up then a timed window; rounds alternate the order
 * of the transports; req/s and latencies are medians over rounds.
 */

export const CONNECTIONS = 64
export const ROUNDS = 2
export const WARMUP_MS = 750
export const DURATION_MS = 2500
export const LOG_LEVEL = 'warn'
/** What `get_secret` answers (and the in-process app reads from the environment). */
export const SECRETS: Record<string, string> = { API_KEY: 'bench-api-key-0123456789', JWT_SECRET: 'bench-jwt-secret-0123456789abcdef0123456789' }
const POST_BYTES = 16 * 1024

const moduleScript = fileURLToPath(new URL('../example/server.js', import.meta.url))
const appModule = fileURLToPath(new URL('../example/app.js', import.meta.url))
const cannedScript = fileURLToPath(new URL('./fixtures/canned-child.js', import.meta.url))

type Transport = 'http' | 'ipc' | 'ceiling' | 'inject'
const TRANSPORTS: readonly Transport[] = ['http', 'ipc', 'ceiling', 'inject']

export interface Case {
  key: 'get' | 'post'
  label: string
  req: IpcRequest
}

/** A compact JSON document of exactly `size` bytes (ASCII), so its echo is byte-identical. */
function jsonOfSize (size: number): Buffer {
  const items: Array<{ id: number, name: string, tags: string[], price: number, active: boolean }> = []
  const doc = { items, pad: '' }
  for (let i = 0; JSON.stringify(doc).length < size - 200; i++) {
    items.push({ id: i, name: `item-${i}`, tags: ['alpha', 'beta', i % 2 === 0 ? 'even' : 'odd'], price: (i * 37) % 1000 / 10, active: i % 3 !== 0 })
  }
  doc.pad = 'x'.repeat(size - JSON.stringify(doc).length)
  const text = JSON.stringify(doc)
  if (text.length !== size) throw new Error(`payload is ${text.length} bytes, not ${size}`)
  return Buffer.from(text)
}

export function cases (): Case[] {
  return [
    { key: 'get', label: 'GET /hello', req: { method: 'GET', uri: '/hello', headers: {} } },
    {
      key: 'post',
      label: 'POST /api/echo 16 KiB',
      req: { method: 'POST', uri: '/api/echo', headers: { 'content-type': 'application/json' }, body: jsonOfSize(POST_BYTES) }
    }
  ]
}

/** Plain HTTP on the module's listener, 64 connections. */
export async function httpLoad (listen: string, c: Case, opts: LoadOptions): Promise<LoadResult> {
  const base = {
    url: `http://${listen}${c.req.uri}`,
    connections: opts.connections,
    method: c.req.method,
    headers: c.req.headers,
    ...(c.req.body === undefined ? {} : { body: c.req.body })
  }
  await autocannon({ ...base, duration: opts.warmupMs / 1000 })
  const r = await autocannon({ ...base, duration: opts.durationMs / 1000 })
  if (r.errors > 0 || r.timeouts > 0) throw new Error(`autocannon: ${r.errors} errors, ${r.timeouts} timeouts`)
  return { requests: r['2xx'], seconds: r.duration, rps: r['2xx'] / r.duration, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx }
}

const injectLatencies = new Float64Array(1 << 20)

/** `app.inject()` with 64 requests in flight, in this process. */
async function injectLoad (app: FastifyInstance, c: Case, opts: LoadOptions): Promise<LoadResult> {
  const request = {
    method: c.req.method as 'GET' | 'POST',
    url: c.req.uri,
    headers: c.req.headers,
    ...(c.req.body === undefined ? {} : { payload: c.req.body })
  }
  let count = 0
  let samples = 0
  let non2xx = 0
  // inject() can resolve without the event loop turning, which would starve
  // timers (and whatever Fastify defers with setImmediate): the phases go by
  // the clock, and every request ends with a turn of the loop, as on a server.
  const worker = async (): Promise<void> => {
    for (;;) {
      const t = performance.now()
      if (t >= t1) return
      const res = await app.inject(request)
      if (res.statusCode >= 300) non2xx++
      const end = performance.now()
      if (t >= t0 && end <= t1) {
        count++
        if (samples < injectLatencies.length) injectLatencies[samples++] = end - t
      }
      await immediate()
    }
  }
  const start = performance.now()
  const t0 = start + opts.warmupMs
  const t1 = t0 + opts.durationMs
  await Promise.all(Array.from({ length: opts.connections }, worker))
  const seconds = (t1 - t0) / 1000
  return { requests: count, seconds, rps: count / seconds, p50: percentile(injectLatencies, samples, 0.5), p99: percentile(injectLatencies, samples, 0.99), non2xx }
}

/** The example app built in this process, standalone (its secrets from the environment), logging at LOG_LEVEL. */
async function buildInjectApp (): Promise<FastifyInstance> {
  const set: Record<string, string> = { ...SECRETS, PYWATT_LOG_LEVEL: LOG_LEVEL }
  const saved = Object.fromEntries(Object.keys(set).map((k) => [k, process.env[k]]))
  Object.assign(process.env, set)
  try {
    const { buildApp } = await import(appModule) as { buildApp: (opts: { standalone: boolean }) => Promise<FastifyInstance> }
    const app = await buildApp({ standalone: true })
    await app.ready()
    return app
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) Reflect.deleteProperty(process.env, k)
      else process.env[k] = v
    }
  }
}

export function sameBytes (a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0
}

/** Requests per second, with a decimal below 10k (the 16 KiB case). */
export const rps = (v: number): string => v >= 1e3 && v < 1e4 ? `${(v / 1e3).toFixed(1)}k req/s` : rate(v, 'req/s')
/** A latency: microseconds below 1 ms (inject), else milliseconds. */
const latency = (v: number): string => v < 1 ? `${Math.round(v * 1000)} µs` : ms(v)
export const fmt = (r: LoadResult): string => `${rps(r.rps).padStart(12)}  p50 ${latency(r.p50).padStart(7)}  p99 ${latency(r.p99).padStart(7)}`

/** A transport's medians over the rounds, with the spread of its req/s. */
export type Aggregate = LoadResult & { spread: number }

/**
 * Measure every case on every transport in `ROUNDS` rounds whose order
 * alternates, logging each measurement, then log and return each transport's
 * medians per case.
 */
export async function measureRounds<T extends string> (
  section: string,
  list: readonly Case[],
  transports: readonly T[],
  measure: (c: Case, t: T) => Promise<LoadResult>,
  log: (line: string) => void
): Promise<Map<Case['key'], Record<T, Aggregate>>> {
  const tag = section.padEnd(12)
  const width = Math.max(...transports.map((t) => t.length)) + 2
  const results = new Map<string, LoadResult[]>()
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? transports : [...transports].reverse()
    for (const c of list) {
      for (const t of order) {
        const r = await measure(c, t)
        if (r.non2xx > 0) log(`${tag}WARNING: ${c.label} ${t}: ${r.non2xx} non-2xx replies`)
        log(`${tag}round ${round + 1} ${c.label.padEnd(22)} ${t.padEnd(width)}${fmt(r)}  n=${r.requests}`)
        const key = `${c.key}/${t}`
        results.set(key, [...(results.get(key) ?? []), r])
      }
    }
  }
  const medians = new Map<Case['key'], Record<T, Aggregate>>()
  for (const c of list) {
    const agg = (t: T): Aggregate => {
      const rs = results.get(`${c.key}/${t}`) ?? []
      const values = rs.map((r) => r.rps)
      return {
        requests: rs.reduce((a, r) => a + r.requests, 0),
        seconds: rs.reduce((a, r) => a + r.seconds, 0),
        rps: median(values),
        p50: median(rs.map((r) => r.p50)),
        p99: median(rs.map((r) => r.p99)),
        non2xx: rs.reduce((a, r) => a + r.non2xx, 0),
        spread: spread(values)
      }
    }
    const m = Object.fromEntries(transports.map((t) => [t, agg(t)])) as Record<T, Aggregate>
    log(`${tag}${c.label}, ${CONNECTIONS} in flight, medians of ${ROUNDS} rounds of ${DURATION_MS / 1000} s:`)
    for (const t of transports) log(`${tag}  ${t.padEnd(width)}${fmt(m[t])}  spread ${percent(m[t].spread)}`)
    medians.set(c.key, m)
  }
  return medians
}

export const http: Section = {
  name: 'http',
  async run ({ log }): Promise<Row[]> {
    for (const script of [moduleScript, appModule, cannedScript]) {
      if (!existsSync(script)) throw new Error(`${script} is missing: run \`npm run build\` first`)
    }
    const list = cases()
    const env: NodeJS.ProcessEnv = { ...process.env, PYWATT_LOG_LEVEL: LOG_LEVEL }
    const { peer: module, listen } = await startModule({ script: moduleScript, env, secrets: SECRETS })
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'pywatt-bench-http-'))
    const canned = new Map<Case['key'], IpcPeer>()
    let app: FastifyInstance | null = null
    try {
      app = await buildInjectApp()
      // Check every path answers the same bytes before timing anything, and
      // capture the module's reply line as the canned child's template.
      for (const c of list) {
        const probe = await module.probe(c.req)
        const reply = decodeModuleMessage(probe.line.toString('utf8'))
        if (reply.op !== 'http_reply' || reply.content.status_code !== 200) throw new Error(`${c.label}: IPC probe answered ${probe.line.toString('utf8').slice(0, 300)}`)
        const ipcBody = Uint8Array.from(reply.content.body ?? [])
        const res = await fetch(`http://${listen}${c.req.uri}`, { method: c.req.method, headers: c.req.headers, ...(c.req.body === undefined ? {} : { body: c.req.body }) })
        const httpBody = new Uint8Array(await res.arrayBuffer())
        const injected = await app.inject({ method: c.req.method as 'GET' | 'POST', url: c.req.uri, headers: c.req.headers, ...(c.req.body === undefined ? {} : { payload: c.req.body }) })
        if (res.status !== 200 || !sameBytes(ipcBody, httpBody)) throw new Error(`${c.label}: plain HTTP answered ${res.status} with other bytes than IPC`)
        // The in-process app has its own module id (in /hello), so only the echo is compared byte for byte.
        if (injected.statusCode !== 200) throw new Error(`${c.label}: inject answered ${injected.statusCode}`)
        if (c.req.body !== undefined && (!sameBytes(ipcBody, c.req.body) || !sameBytes(injected.rawPayload, c.req.body))) throw new Error(`${c.label}: the echo is not byte-identical`)
        const template = probe.line.toString('utf8').split(`"${probe.id}"`).join('"@@RID@@"')
        const file = path.join(tmp, `${c.key}.json`)
        await writeFile(file, template)
        const child = spawn(process.execPath, [cannedScript, file], { stdio: ['pipe', 'pipe', 'pipe'] })
        const peer = new IpcPeer(child)
        canned.set(c.key, peer)
        const cannedProbe = await peer.probe(c.req)
        log(`http        ${c.label.padEnd(22)} request body ${c.req.body?.length ?? 0} B, reply line ${probe.line.length} B (canned ${cannedProbe.line.length} B), body ${ipcBody.length} B`)
      }

      const opts: LoadOptions = { connections: CONNECTIONS, warmupMs: WARMUP_MS, durationMs: DURATION_MS }
      const injectApp = app
      const measure = async (c: Case, t: Transport): Promise<LoadResult> => {
        switch (t) {
          case 'http': return await httpLoad(listen, c, opts)
          case 'ipc': return await module.load(c.req, opts)
          case 'ceiling': return await (canned.get(c.key) as IpcPeer).load(c.req, opts)
          case 'inject': return await injectLoad(injectApp, c, opts)
        }
      }
      const medians = await measureRounds('http', list, TRANSPORTS, measure, log)

      const rows: Row[] = []
      for (const c of list) {
        const m = medians.get(c.key) as Record<Transport, Aggregate>
        const ipcHttp = m.ipc.rps / m.http.rps
        const ipcCeiling = m.ipc.rps / m.ceiling.rps
        log(`http          IPC / plain HTTP ${ratio(ipcHttp)}  IPC / ceiling ${ratio(ipcCeiling)}  IPC / inject ${ratio(m.ipc.rps / m.inject.rps)}  (autocannon latencies have 1 ms resolution)`)
        const name = c.key === 'get' ? 'http GET' : 'http POST 16K'
        rows.push({
          name: `${name} IPC/HTTP`,
          detail: `ipc ${rps(m.ipc.rps)}  http ${rps(m.http.rps)}`,
          ratio: ipcHttp,
          target: { op: '>=', value: c.key === 'get' ? 1.5 : 0.8 }
        })
        rows.push({
          name: `${name} IPC/ceiling`,
          detail: `ipc ${rps(m.ipc.rps)}  ceiling ${rps(m.ceiling.rps)}`,
          ratio: ipcCeiling,
          ...(c.key === 'get' ? { target: { op: '>=' as const, value: 0.75 } } : {})
        })
      }
      return rows
    } finally {
      await app?.close()
      for (const peer of canned.values()) await peer.close()
      await stopModule(module)
      await rm(tmp, { recursive: true, force: true })
    }
  }
}
