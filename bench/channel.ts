import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { decodeModuleEnvelope } from '../lib/protocol/index.js'
import { ChannelPeer } from './fixtures/channel-load.js'
import { startModule, stopModule, type LoadOptions, type LoadResult } from './fixtures/ipc-load.js'
import { CONNECTIONS, DURATION_MS, LOG_LEVEL, ROUNDS, SECRETS, WARMUP_MS, cases, fmt, httpLoad, rps, sameBytes, type Case } from './http.js'
import { median, percent, ratio, spread, type Row, type Section } from './report.js'

/**
 * HTTP requests over the TCP and Unix-socket channels (issue 6, "Performance"),
 * against plain HTTP on the same example module, in one run: the module is
 * started with `tcp_channel` and `ipc_channel` in its Init; this process plays
 * the orchestrator's end of both (fixtures/channel-load.ts) and drives plain
 * HTTP with autocannon. Same cases, concurrency and rounds as the http section.
 */

const moduleScript = fileURLToPath(new URL('../example/server.js', import.meta.url))

type Transport = 'http' | 'tcp' | 'unix'
const TRANSPORTS: readonly Transport[] = ['http', 'tcp', 'unix']

export const channel: Section = {
  name: 'channel',
  async run ({ log }): Promise<Row[]> {
    if (!existsSync(moduleScript)) throw new Error(`${moduleScript} is missing: run \`npm run build\` first`)
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'pw-bench-'))
    const tcp = await ChannelPeer.listen(null)
    const unix = await ChannelPeer.listen(path.join(tmp, 'ch.sock'))
    const env: NodeJS.ProcessEnv = { ...process.env, PYWATT_LOG_LEVEL: LOG_LEVEL }
    const connecting = Promise.all([tcp.connected(), unix.connected()])
    const { peer: module, listen } = await startModule({
      script: moduleScript,
      env,
      secrets: SECRETS,
      init: {
        tcp_channel: { address: tcp.address, tls_enabled: false, required: true },
        ipc_channel: { socket_path: unix.address, required: true }
      }
    })
    try {
      await connecting
      const list = cases()
      for (const c of list) {
        const res = await fetch(`http://${listen}${c.req.uri}`, { method: c.req.method, headers: c.req.headers, ...(c.req.body === undefined ? {} : { body: c.req.body }) })
        const httpBody = new Uint8Array(await res.arrayBuffer())
        for (const [name, peer] of [['tcp', tcp], ['unix', unix]] as const) {
          const reply = decodeModuleEnvelope(await peer.probe(c.req)).content
          if (reply.op !== 'http_response' || reply.status_code !== 200 || !sameBytes(Uint8Array.from(reply.body ?? []), httpBody)) {
            throw new Error(`${c.label}: the ${name} channel answered other bytes than plain HTTP`)
          }
        }
        log(`channel     ${c.label.padEnd(22)} body ${httpBody.length} B, byte-identical over http, tcp and unix`)
      }
      const opts: LoadOptions = { connections: CONNECTIONS, warmupMs: WARMUP_MS, durationMs: DURATION_MS }
      const measure = async (c: Case, t: Transport): Promise<LoadResult> => {
        switch (t) {
          case 'http': return await httpLoad(listen, c, opts)
          case 'tcp': return await tcp.load(c.req, opts)
          case 'unix': return await unix.load(c.req, opts)
        }
      }
      const results = new Map<string, LoadResult[]>()
      for (let round = 0; round < ROUNDS; round++) {
        const order = round % 2 === 0 ? TRANSPORTS : [...TRANSPORTS].reverse()
        for (const c of list) {
          for (const t of order) {
            const r = await measure(c, t)
            if (r.non2xx > 0) log(`channel     WARNING: ${c.label} ${t}: ${r.non2xx} non-2xx replies`)
            log(`channel     round ${round + 1} ${c.label.padEnd(22)} ${t.padEnd(6)}${fmt(r)}  n=${r.requests}`)
            const key = `${c.key}/${t}`
            results.set(key, [...(results.get(key) ?? []), r])
          }
        }
      }
      const rows: Row[] = []
      for (const c of list) {
        const agg = (t: Transport): LoadResult & { spread: number } => {
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
        const m = Object.fromEntries(TRANSPORTS.map((t) => [t, agg(t)])) as Record<Transport, ReturnType<typeof agg>>
        log(`channel     ${c.label}, ${CONNECTIONS} in flight, medians of ${ROUNDS} rounds of ${DURATION_MS / 1000} s:`)
        for (const t of TRANSPORTS) log(`channel       ${t.padEnd(6)}${fmt(m[t])}  spread ${percent(m[t].spread)}`)
        const name = c.key === 'get' ? 'channel GET' : 'channel POST 16K'
        for (const t of ['tcp', 'unix'] as const) {
          rows.push({
            name: `${name} ${t}/HTTP`,
            detail: `${t} ${rps(m[t].rps)}  http ${rps(m.http.rps)}`,
            ratio: m[t].rps / m.http.rps,
            target: { op: '>=', value: 1.0 }
          })
        }
        log(`channel       TCP / plain HTTP ${ratio(m.tcp.rps / m.http.rps)}  Unix / plain HTTP ${ratio(m.unix.rps / m.http.rps)}`)
      }
      return rows
    } finally {
      await stopModule(module)
      await tcp.close()
      await unix.close()
      await rm(tmp, { recursive: true, force: true })
    }
  }
}
