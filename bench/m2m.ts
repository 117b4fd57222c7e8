import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { DevCluster } from '../lib/dev/cluster.js'
import { resolveDevConfig } from '../lib/dev/config.js'
import { median, ms, rate, ratio, type Row, type Section } from './report.js'

/**
 * Module-to-module requests (docs/modules.md) against plain HTTP, in one run:
 * two copies of fixtures/m2m-module.ts run under pywatt-dev with TCP
 * channels. The caller copy drives both kinds of call itself (its `/drive`
 * route), so both are measured from inside a module: `modules.request` through
 * pywatt-dev's router (caller → pywatt-dev → target and back, two channel
 * hops each way), and an HTTP POST to the target's own listener over a
 * keep-alive agent. Same payload, same concurrency, interleaved rounds.
 */

const script = fileURLToPath(new URL('./fixtures/m2m-module.js', import.meta.url))
const IN_FLIGHT = 64
const REQUESTS = 20_000
const ROUNDS = 5

interface Drive { rps: number, p50: number, p99: number }

async function drive (caller: string, query: string): Promise<Drive> {
  const res = await fetch(`http://${caller}/drive?${query}`)
  if (res.status !== 200) throw new Error(`drive answered ${res.status}: ${await res.text()}`)
  return await res.json() as Drive
}

async function announced (cluster: DevCluster, name: string): Promise<string> {
  const deadline = Date.now() + 20_000
  for (;;) {
    const snapshot = cluster.host(name)?.snapshot()
    if (snapshot?.listen != null && snapshot.channels.every((c) => c.connected)) return snapshot.listen
    if (Date.now() > deadline) throw new Error(`module ${name} did not announce with its channel connected`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

export const m2mBench: Section = {
  name: 'm2m',
  async run ({ log }): Promise<Row[]> {
    if (!existsSync(script)) throw new Error(`${script} is missing: run \`npm run build\` first`)
    const module = (name: string): Record<string, unknown> => ({
      name,
      command: [process.execPath, script],
      channels: { tcp: true },
      env: { PYWATT_LOG_LEVEL: 'warn' }
    })
    const config = resolveDevConfig({ gatewayPort: 0, heartbeat: 0, modules: [module('caller'), module('target')] }, tmpdir())
    const cluster = new DevCluster(config, { out: new Writable({ write: (_c, _e, done) => done() }) })
    await cluster.listen()
    try {
      await cluster.start()
      const caller = await announced(cluster, 'caller')
      const target = await announced(cluster, 'target')
      const m2m = `mode=m2m&target=target&c=${IN_FLIGHT}`
      const http = `mode=http&to=${target}&c=${IN_FLIGHT}`
      await drive(caller, `${m2m}&n=${REQUESTS / 4}`)
      await drive(caller, `${http}&n=${REQUESTS / 4}`)
      const runs: Record<'m2m' | 'http', Drive[]> = { m2m: [], http: [] }
      for (let round = 0; round < ROUNDS; round++) {
        // Alternate which goes first, so neither always runs on a warmer process.
        const order = round % 2 === 0 ? (['m2m', 'http'] as const) : (['http', 'm2m'] as const)
        for (const kind of order) {
          const result = await drive(caller, `${kind === 'm2m' ? m2m : http}&n=${REQUESTS}`)
          runs[kind].push(result)
          log(`m2m         round ${round + 1} ${kind.padEnd(4)} ${rate(result.rps, 'req/s')}  p50 ${ms(result.p50)}  p99 ${ms(result.p99)}`)
        }
      }
      const m = (kind: 'm2m' | 'http', key: keyof Drive): number => median(runs[kind].map((r) => r[key]))
      const ratios = runs.m2m.map((r, i) => r.rps / (runs.http[i] as Drive).rps)
      log(`m2m         per-round ratios ${ratios.map(ratio).join(' ')}`)
      return [{
        name: `m2m round trip/HTTP (${IN_FLIGHT} in flight)`,
        detail: `m2m ${rate(m('m2m', 'rps'), 'req/s')} p50 ${ms(m('m2m', 'p50'))} p99 ${ms(m('m2m', 'p99'))}  http ${rate(m('http', 'rps'), 'req/s')} p50 ${ms(m('http', 'p50'))} p99 ${ms(m('http', 'p99'))}`,
        ratio: m('m2m', 'rps') / m('http', 'rps'),
        target: { op: '>=', value: 1.0 }
      }]
    } finally {
      await cluster.shutdown()
    }
  }
}
