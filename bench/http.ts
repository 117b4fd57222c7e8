import { spawn, type ChildProcessByStdio } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { createInterface, type Interface } from 'node:readline'
import type { Readable, Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { decodeModuleMessage } from '../lib/protocol/index.js'
import { IpcPeer, startModule, stopModule, type IpcRequest, type LoadOptions, type LoadResult } from './fixtures/ipc-load.js'
import { median, ms, percent, rate, ratio, spread, type Row, type Section } from './report.js'

/**
 * HTTP over IPC (issue 3, "Performance"): on the built example module and the
 * same routes, in one run, for a small JSON GET (`/hello`) and a 16 KiB JSON
 * POST echo (`/api/echo`), with 64 requests in flight:
 *
 * - ipc (the subject): `http_request` lines on the module's stdin, replies read
 *   from its stdout, by the lean load generator of fixtures/ipc-load.ts in
 *   this process;
 * - http: plain HTTP on the same module's own listener (the Init `listen`),
 *   driven by autocannon in this process;
 * - inject: `app.inject()` loops in a process of their own
 *   (fixtures/inject-child.ts), on the example app with the same plugins,
 *   routes, secrets, module id and log level as the module;
 * - canned: the load generator of `ipc` against fixtures/canned-child.js, a
 *   protocol child with no Fastify: it splits its stdin into lines, parses each
 *   as JSON for its request_id and answers with a reply line of the module's
 *   size, written as the module's writer writes (one writev per tick).
 *
 * Summary rows: the GET against inject (>= 3x) and plain HTTP (>= 1.5x); the
 * POST against the canned child (>= 0.9x), which pays the same number-array
 * body encoding, and against plain HTTP (no target: plain HTTP carries the
 * body as raw bytes, docs/benchmarks.md).
 *
 * The module and the inject child run with PYWATT_LOG_LEVEL=warn: at the
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
const injectScript = fileURLToPath(new URL('./fixtures/inject-child.js', import.meta.url))
const cannedScript = fileURLToPath(new URL('./fixtures/canned-child.js', import.meta.url))
const MODULE_ID = 'bench-module'

type Transport = 'ipc' | 'http' | 'inject' | 'canned'
const TRANSPORTS: readonly Transport[] = ['ipc', 'http', 'inject', 'canned']

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

type Child = ChildProcessByStdio<Writable, Readable, Readable>

/**
 * The process of fixtures/inject-child.ts: the example app and its
 * `app.inject()` loops, driven by one JSON command line per measurement.
 */
class InjectChild {
  readonly #child: Child
  readonly #lines: Interface
  readonly #replies: AsyncIterator<string>
  /** Rejects once the child has exited (a reply that never comes). */
  readonly #exited: Promise<never>
  #stderr = ''

  private constructor (child: Child) {
    this.#child = child
    child.stdin.on('error', () => {})
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { this.#stderr = (this.#stderr + chunk).slice(-8192) })
    this.#lines = createInterface({ input: child.stdout, crlfDelay: Infinity })
    this.#replies = this.#lines[Symbol.asyncIterator]()
    this.#exited = once(child, 'exit').then(([code, signal]) => {
      throw new Error(`the inject child exited with ${String(code ?? signal)}\n${this.#stderr}`)
    })
    this.#exited.catch(() => {})
  }

  /** Start the child; resolves once its app is ready. */
  static async start (env: NodeJS.ProcessEnv): Promise<InjectChild> {
    const child = spawn(process.execPath, [injectScript], { env, stdio: ['pipe', 'pipe', 'pipe'] })
    const peer = new InjectChild(child)
    await peer.#next()
    return peer
  }

  async #next (): Promise<string> {
    const next = await Promise.race([this.#replies.next(), this.#exited])
    if (next.done === true) throw new Error(`the inject child closed its stdout\n${this.#stderr}`)
    return next.value
  }

  async #ask (command: Record<string, unknown>): Promise<string> {
    this.#child.stdin.write(JSON.stringify(command) + '\n')
    return await this.#next()
  }

  async probe (c: Case): Promise<{ statusCode: number, payload: Buffer }> {
    const reply = JSON.parse(await this.#ask({ op: 'probe', req: wire(c) })) as { statusCode: number, payload: string }
    return { statusCode: reply.statusCode, payload: Buffer.from(reply.payload, 'base64') }
  }

  async load (c: Case, opts: LoadOptions): Promise<LoadResult> {
    return JSON.parse(await this.#ask({ op: 'load', req: wire(c), opts })) as LoadResult
  }

  async close (grace = 5_000): Promise<void> {
    this.#lines.close()
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return
    const exited = once(this.#child, 'exit')
    this.#child.stdin.end()
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), grace)
    await exited
    clearTimeout(timer)
  }
}

/** A case as the inject child reads it. */
function wire (c: Case): Record<string, unknown> {
  return { method: c.req.method, url: c.req.uri, headers: c.req.headers, ...(c.req.body === undefined ? {} : { body: c.req.body.toString('base64') }) }
}

export function sameBytes (a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0
}

/** Requests per second, with a decimal below 10k (the 16 KiB case). */
export const rps = (v: number): string => v >= 1e3 && v < 1e4 ? `${(v / 1e3).toFixed(1)}k req/s` : rate(v, 'req/s')
/** A latency: microseconds below 1 ms (inject), else milliseconds. */
const latency = (v: number): string => v < 1 ? `${Math.round(v * 1000)} µs` : ms(v)
export const fmt = (r: LoadResult): string => `${rps(r.rps).padStart(12)}  p50 ${latency(r.p50).padStart(7)}  p99 ${latency(r.p99).padStart(7)}`

/** A transport's medians over the rounds, with the spread of its req/s and each round's result. */
export type Aggregate = LoadResult & { spread: number, rounds: LoadResult[] }

/** How many rounds, and how long each measurement's timed window is. */
export interface Sampling {
  rounds: number
  durationMs: number
}

/**
 * Measure every case on every transport in `sampling.rounds` rounds whose
 * order alternates, logging each measurement, then log and return each
 * transport's medians per case. `measure` is given `sampling.durationMs`.
 */
export async function measureRounds<T extends string> (
  section: string,
  list: readonly Case[],
  transports: readonly T[],
  measure: (c: Case, t: T) => Promise<LoadResult>,
  log: (line: string) => void,
  sampling: Sampling = { rounds: ROUNDS, durationMs: DURATION_MS }
): Promise<Map<Case['key'], Record<T, Aggregate>>> {
  const tag = section.padEnd(12)
  const width = Math.max(...transports.map((t) => t.length)) + 2
  const results = new Map<string, LoadResult[]>()
  for (let round = 0; round < sampling.rounds; round++) {
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
        spread: spread(values),
        rounds: rs
      }
    }
    const m = Object.fromEntries(transports.map((t) => [t, agg(t)])) as Record<T, Aggregate>
    log(`${tag}${c.label}, ${CONNECTIONS} in flight, medians of ${sampling.rounds} rounds of ${sampling.durationMs / 1000} s:`)
    for (const t of transports) log(`${tag}  ${t.padEnd(width)}${fmt(m[t])}  spread ${percent(m[t].spread)}`)
    medians.set(c.key, m)
  }
  return medians
}

export const http: Section = {
  name: 'http',
  async run ({ log }): Promise<Row[]> {
    for (const script of [moduleScript, injectScript, cannedScript]) {
      if (!existsSync(script)) throw new Error(`${script} is missing: run \`npm run build\` first`)
    }
    const list = cases()
    const env: NodeJS.ProcessEnv = { ...process.env, PYWATT_LOG_LEVEL: LOG_LEVEL }
    const { peer: module, listen } = await startModule({ script: moduleScript, env, secrets: SECRETS, moduleId: MODULE_ID })
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'pywatt-bench-http-'))
    const canned = new Map<Case['key'], IpcPeer>()
    let inject: InjectChild | null = null
    try {
      // Standalone, the example reads its secrets and module id from the environment.
      inject = await InjectChild.start({ ...env, ...SECRETS, PYWATT_STANDALONE: '1', PYWATT_MODULE_ID: MODULE_ID })
      // Check every path answers the same bytes before timing anything, and
      // capture the module's reply line as the canned child's template.
      for (const c of list) {
        const probe = await module.probe(c.req)
        const reply = decodeModuleMessage(probe.line.toString('utf8'))
        if (reply.op !== 'http_reply' || reply.content.status_code !== 200) throw new Error(`${c.label}: IPC probe answered ${probe.line.toString('utf8').slice(0, 300)}`)
        const ipcBody = Uint8Array.from(reply.content.body ?? [])
        const res = await fetch(`http://${listen}${c.req.uri}`, { method: c.req.method, headers: c.req.headers, ...(c.req.body === undefined ? {} : { body: c.req.body }) })
        const httpBody = new Uint8Array(await res.arrayBuffer())
        if (res.status !== 200 || !sameBytes(ipcBody, httpBody)) throw new Error(`${c.label}: plain HTTP answered ${res.status} with other bytes than IPC`)
        const injected = await inject.probe(c)
        if (injected.statusCode !== 200 || !sameBytes(ipcBody, injected.payload)) throw new Error(`${c.label}: inject answered ${injected.statusCode} with other bytes than IPC`)
        if (c.req.body !== undefined && !sameBytes(ipcBody, c.req.body)) throw new Error(`${c.label}: the echo is not byte-identical`)
        const template = probe.line.toString('utf8').split(`"${probe.id}"`).join('"@@RID@@"')
        const file = path.join(tmp, `${c.key}.json`)
        await writeFile(file, template)
        const child = spawn(process.execPath, [cannedScript, file], { stdio: ['pipe', 'pipe', 'pipe'] })
        const peer = new IpcPeer(child)
        canned.set(c.key, peer)
        const cannedProbe = await peer.probe(c.req)
        log(`http        ${c.label.padEnd(22)} request body ${c.req.body?.length ?? 0} B, reply line ${probe.line.length} B (canned ${cannedProbe.line.length} B), body ${ipcBody.length} B, byte-identical over ipc, http and inject`)
      }

      const opts: LoadOptions = { connections: CONNECTIONS, warmupMs: WARMUP_MS, durationMs: DURATION_MS }
      const injectChild = inject
      const measure = async (c: Case, t: Transport): Promise<LoadResult> => {
        switch (t) {
          case 'ipc': return await module.load(c.req, opts)
          case 'http': return await httpLoad(listen, c, opts)
          case 'inject': return await injectChild.load(c, opts)
          case 'canned': return await (canned.get(c.key) as IpcPeer).load(c.req, opts)
        }
      }
      const medians = await measureRounds('http', list, TRANSPORTS, measure, log)

      const rows: Row[] = []
      for (const c of list) {
        const m = medians.get(c.key) as Record<Transport, Aggregate>
        const ipcHttp = m.ipc.rps / m.http.rps
        const ipcInject = m.ipc.rps / m.inject.rps
        const ipcCanned = m.ipc.rps / m.canned.rps
        log(`http          ${c.label}: IPC / inject ${ratio(ipcInject)}  IPC / plain HTTP ${ratio(ipcHttp)}  IPC / canned ${ratio(ipcCanned)}  (autocannon latencies have 1 ms resolution)`)
        if (c.key === 'get') {
          rows.push({
            name: 'http GET IPC/inject',
            detail: `ipc ${rps(m.ipc.rps)}  inject ${rps(m.inject.rps)}`,
            ratio: ipcInject,
            target: { op: '>=', value: 3 }
          }, {
            name: 'http GET IPC/HTTP',
            detail: `ipc ${rps(m.ipc.rps)}  http ${rps(m.http.rps)}`,
            ratio: ipcHttp,
            target: { op: '>=', value: 1.5 }
          })
        } else {
          rows.push({
            name: 'http POST 16K IPC/no-Fastify',
            detail: `ipc ${rps(m.ipc.rps)}  canned ${rps(m.canned.rps)}`,
            ratio: ipcCanned,
            target: { op: '>=', value: 0.9 }
          }, {
            // Informational: plain HTTP carries the body as raw bytes, the protocol as a JSON number array.
            name: 'http POST 16K IPC/HTTP',
            detail: `ipc ${rps(m.ipc.rps)}  http ${rps(m.http.rps)}`,
            ratio: ipcHttp
          })
        }
      }
      return rows
    } finally {
      await inject?.close()
      for (const peer of canned.values()) await peer.close()
      await stopModule(module)
      await rm(tmp, { recursive: true, force: true })
    }
  }
}
