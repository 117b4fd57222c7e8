import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { decodeModuleEnvelope } from '../lib/protocol/index.js'
import { startWithChannels } from './fixtures/channel-load.js'
import type { LoadOptions, LoadResult } from './fixtures/ipc-load.js'
import { CONNECTIONS, LOG_LEVEL, SECRETS, WARMUP_MS, DURATION_MS, cases, httpLoad, measureRounds, rps, sameBytes, type Aggregate, type Case } from './http.js'
import { ratio, type Row, type Section } from './report.js'

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
    const env: NodeJS.ProcessEnv = { ...process.env, PYWATT_LOG_LEVEL: LOG_LEVEL }
    const { listen, tcp, unix, stop } = await startWithChannels({ script: moduleScript, env, secrets: SECRETS })
    try {
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
      const medians = await measureRounds('channel', list, TRANSPORTS, measure, log)
      const rows: Row[] = []
      for (const c of list) {
        const m = medians.get(c.key) as Record<Transport, Aggregate>
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
      await stop()
    }
  }
}
