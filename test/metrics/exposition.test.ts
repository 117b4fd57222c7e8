import t from 'tap'
import Fastify from 'fastify'
import { Counter, Gauge, Histogram, Registry, type RegistryContentType } from 'prom-client'
import pywatt from '../../plugins/index.js'
import metrics from '../../plugins/metrics.js'
import { expose, negotiateFormat } from '../../lib/metrics/exposition.js'
import { HttpMetrics, UNMATCHED } from '../../lib/metrics/http.js'
import type { RequestTransport } from '../../lib/http/transport.js'
import { parseSamples, find } from '../helpers/scrape.js'

t.test('negotiateFormat: OpenMetrics only when asked with at least the weight of text', async (t) => {
  t.equal(negotiateFormat(undefined), 'prometheus')
  t.equal(negotiateFormat('text/plain'), 'prometheus')
  t.equal(negotiateFormat('application/openmetrics-text'), 'openmetrics')
  t.equal(negotiateFormat('application/openmetrics-text;q=0.2, */*;q=0.5'), 'prometheus')
  t.equal(negotiateFormat('application/openmetrics-text;q=0'), 'prometheus')
  t.equal(negotiateFormat('application/openmetrics-text;q=abc, text/plain;q=0.1'), 'prometheus', 'an unreadable weight is ignored')
})

t.test('expose: escaping, special values, labels with numbers, both formats', async (t) => {
  const registry = new Registry()
  const g = new Gauge({ name: 'odd_values', help: 'Help with a "quote", a back\\slash\nand a newline.', labelNames: ['v'], registers: [registry] })
  g.set({ v: 'a"b\\c\nd' }, NaN)
  g.set({ v: 'inf' }, Infinity)
  g.set({ v: 'minus' }, -Infinity)
  g.set({ v: 7 }, 1.5)
  const text = await expose(registry, 'prometheus')
  t.match(text, '# HELP odd_values Help with a "quote", a back\\\\slash\\nand a newline.')
  const open = await expose(registry, 'openmetrics')
  t.match(open, '# HELP odd_values Help with a \\"quote\\", a back\\\\slash\\nand a newline.')
  for (const body of [text, open]) {
    const samples = parseSamples(body)
    t.ok(Number.isNaN(find(samples, 'odd_values', { v: 'a"b\\c\nd' })[0]?.value))
    t.equal(find(samples, 'odd_values', { v: 'inf' })[0]?.value, Infinity)
    t.match(body, /^odd_values\{v="minus"\} -Inf$/m)
    t.equal(find(samples, 'odd_values', { v: '7' })[0]?.value, 1.5)
  }
})

t.test('standalone, without ipc-http, cache or the token secret: the stdio and ipc-http series are absent or zero; a missing token secret refuses the start', async (t) => {
  const app = Fastify()
  t.after(() => app.close())
  await app.register(pywatt, { standalone: true, cache: false, db: false, health: false })
  await app.register(metrics, { defaultMetrics: false })
  app.get('/s', async (req) => req.pywattTransport)
  t.equal((await app.inject({ url: '/s' })).body, 'http')
  const samples = parseSamples((await app.inject({ url: '/metrics' })).body)
  t.same(find(samples, 'pywatt_channel_up'), [], 'no link to the orchestrator')
  t.same(samples.filter((s) => s.name.startsWith('pywatt_stdio_') || s.name.startsWith('pywatt_cache_')), [])
  t.equal(find(samples, 'pywatt_ipc_http_requests_in_flight')[0]?.value, 0)
  t.same(find(samples, 'pywatt_ipc_http_requests_total'), [])
  await app.close()

  const refused = Fastify()
  t.after(() => refused.close())
  await refused.register(pywatt, { standalone: true, cache: false, db: false, exitOnStop: false })
  await t.rejects(async () => { await refused.register(metrics, { bearerToken: { secret: 'PYWATT_TEST_UNSET_METRICS_TOKEN' } }) }, { code: 'FST_PYWATT_SECRET_NOT_SET' })
})

t.test("HttpMetrics: prom-client's own registry.metrics() and getMetricsAsJSON() read the series as from prom-client's metrics; resetMetrics() empties them", async (t) => {
  const ours = new Registry<RegistryContentType>()
  const theirs = new Registry<RegistryContentType>()
  const http = new HttpMetrics(ours, undefined)
  const labelNames = ['method', 'route', 'status_code', 'transport']
  const histogram = new Histogram({ name: 'http_request_duration_seconds', help: 'Time from the request reaching Fastify to the end of its response, in seconds.', labelNames, registers: [theirs] })
  const counter = new Counter({ name: 'http_requests_total', help: 'HTTP requests answered, by method, route pattern, status code and transport (http, stdio, tcp, unix).', labelNames, registers: [theirs] })
  const requests: Array<[string | undefined, string, number, RequestTransport, number]> = [
    ['/a', 'GET', 200, 'http', 3], ['/a', 'GET', 200, 'http', 300], ['/b"x', 'POST', 500, 'stdio', 12_000], [undefined, 'GET', 404, 'tcp', 0.2]
  ]
  for (const [route, method, status, transport, ms] of requests) {
    http.observe(route, method, status, transport, ms)
    const labels = { method, route: route ?? UNMATCHED, status_code: String(status), transport }
    histogram.observe(labels, ms / 1000)
    counter.inc(labels)
  }
  const lines = (text: string): string[] => text.split('\n').sort()
  for (const type of [Registry.PROMETHEUS_CONTENT_TYPE, Registry.OPENMETRICS_CONTENT_TYPE]) {
    ours.setContentType(type)
    theirs.setContentType(type)
    t.same(lines(await ours.metrics()), lines(await theirs.metrics()), type)
  }
  const samples = async (registry: Registry<RegistryContentType>): Promise<string[]> => (await registry.getMetricsAsJSON()).flatMap((family) =>
    family.values.map((v) => `${(v as { metricName?: string }).metricName ?? family.name} ${JSON.stringify(Object.entries(v.labels).map(([k, l]) => [k, String(l)]).sort())} ${v.value}`)).sort()
  t.same(await samples(ours), await samples(theirs))
  ours.resetMetrics()
  t.same((await ours.getMetricsAsJSON()).flatMap((family) => family.values), [])
})
