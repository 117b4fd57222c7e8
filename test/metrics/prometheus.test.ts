import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify from 'fastify'
import pywatt from '../../plugins/index.js'
import ipcHttp from '../../plugins/ipc-http.js'
import metrics from '../../plugins/metrics.js'
import { freePort } from '../../lib/dev/free-port.js'
import { FakeOrchestrator } from '../helpers/fake-orchestrator.js'
import { requireBinary } from '../helpers/binaries.js'

const prometheus = requireBinary(t, 'prometheus', 'Debian package prometheus: apt-get install prometheus')
const TOKEN = 'scrape-token-for-prometheus'

interface QueryResult { metric: Record<string, string>, value: [number, string] }

if (prometheus !== null) {
  t.test('a real Prometheus scrapes /metrics (OpenMetrics, with the bearer token): up is 1 and the request counter reads back', async (t) => {
    const orch = new FakeOrchestrator()
    orch.init({ module_id: 'prom-e2e', listen: '127.0.0.1:0' })
    const app = Fastify()
    t.after(() => app.close())
    await app.register(pywatt, { io: orch.io })
    await app.register(ipcHttp)
    await app.register(metrics, { bearerToken: TOKEN })
    app.get('/items/:id', async () => ({ ok: true }))
    const served: unknown[] = []
    app.addHook('onResponse', async (req, reply) => { if (req.url === '/metrics') served.push([reply.statusCode, reply.getHeader('content-type')]) })
    const listen = await app.pywatt.listen()
    for (let i = 0; i < 3; i++) {
      orch.send({ op: 'http_request', request_id: `r-${i}`, method: 'GET', uri: `/items/${i}`, headers: {} })
      await orch.waitFor((l) => l.content?.request_id === `r-${i}`)
    }

    const dir = mkdtempSync(join(tmpdir(), 'pw-prom-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    const config = join(dir, 'prometheus.yml')
    writeFileSync(config, [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 900ms',
      'scrape_configs:',
      '  - job_name: module',
      '    authorization:',
      `      credentials: ${TOKEN}`,
      '    static_configs:',
      `      - targets: ['${listen}']`,
      ''
    ].join('\n'))
    const port = await freePort()
    const proc = spawn(prometheus, [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`
    ], { stdio: ['ignore', 'ignore', 'pipe'] })
    const logs: string[] = []
    proc.stderr.setEncoding('utf8').on('data', (chunk: string) => logs.push(chunk))
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
    t.after(async () => {
      proc.kill('SIGKILL')
      await exited
    })

    const query = async (expr: string): Promise<QueryResult[]> => {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(expr)}`)
        if (!res.ok) return []
        const body = await res.json() as { data: { result: QueryResult[] } }
        return body.data.result
      } catch {
        return []
      }
    }
    const deadline = Date.now() + 15_000
    let up: QueryResult[] = []
    let counted: QueryResult[] = []
    let scrapes: QueryResult[] = []
    while (Date.now() < deadline) {
      up = await query('up{job="module"}')
      counted = await query('http_requests_total{route="/items/:id",transport="stdio",status_code="200"}')
      // A scrape is counted when its response ends: the next scrape carries it.
      scrapes = await query('http_requests_total{route="/metrics",status_code="200",transport="http"}')
      if (up[0]?.value[1] === '1' && counted.length > 0 && scrapes.length > 0) break
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    t.equal(up[0]?.value[1], '1', `up == 1 (prometheus log tail: ${logs.join('').slice(-500)})`)
    t.equal(counted.length, 1)
    t.equal(counted[0]?.value[1], '3', 'the three tunnelled requests')
    t.same(counted[0]?.metric, { __name__: 'http_requests_total', instance: listen, job: 'module', method: 'GET', route: '/items/:id', status_code: '200', transport: 'stdio' })
    t.ok(Number(scrapes[0]?.value[1] ?? 0) >= 1, "Prometheus's own scrapes are counted")
    t.same(served[0], [200, 'application/openmetrics-text; version=1.0.0; charset=utf-8'], 'Prometheus asked for OpenMetrics, sent its token, and parsed the answer')
  })
}
