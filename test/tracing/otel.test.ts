import t, { type Test } from 'tap'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyInstance } from 'fastify'
import { context, propagation, trace, SpanKind } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { FastifyOtelInstrumentation } from '@fastify/otel'
import pywatt from '../../plugins/index.js'
import ipcHttp from '../../plugins/ipc-http.js'
import { ChannelServer } from '../../lib/dev/channel-server.js'
import type { RequestTransport } from '../../lib/http/transport.js'
import { FakeOrchestrator, type Line } from '../helpers/fake-orchestrator.js'
import { captureLogger } from '../helpers/log-capture.js'

// What an OpenTelemetry SDK sets up in a real module (NodeSDK does the same).
const exporter = new InMemorySpanExporter()
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
trace.setGlobalTracerProvider(provider)
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
propagation.setGlobalPropagator(new W3CTraceContextPropagator())
t.teardown(async () => {
  await provider.shutdown()
  trace.disable()
  context.disable()
  propagation.disable()
})

type Order = 'on-initialization' | 'before-pywatt' | 'after-pywatt'

interface BootOptions {
  dispatcher?: 'lean' | 'inject'
  order?: Order
  concurrency?: number
}

/**
 * One module: @fastify/otel, fastify-pywatt with a TCP and a Unix-socket
 * channel, ipc-http, and a route whose handler reports the trace it runs in.
 */
async function boot (t: Test, opts: BootOptions = {}) {
  const order = opts.order ?? 'before-pywatt'
  const otel = new FastifyOtelInstrumentation({ registerOnInitialization: order === 'on-initialization' })
  otel.setTracerProvider(provider)
  t.after(() => otel.disable())
  const tcp = new ChannelServer({ kind: 'tcp' })
  const unix = new ChannelServer({ kind: 'unix', path: join(mkdtempSync(join(tmpdir(), 'pw-otel-')), 'p.sock') })
  await tcp.listen()
  await unix.listen()
  const orch = new FakeOrchestrator()
  orch.init({
    module_id: 'otel-test',
    tcp_channel: { address: tcp.address, tls_enabled: false, required: true },
    ipc_channel: { socket_path: unix.address, required: true }
  })
  const log = captureLogger()
  const app = Fastify({ loggerInstance: log.logger })
  // Last registered, first run: the app closes before its channel servers do.
  t.after(async () => { await tcp.close(); await unix.close() })
  t.after(() => app.close())
  if (order === 'before-pywatt') await app.register(otel.plugin())
  await app.register(pywatt, { io: orch.io, health: false })
  if (order === 'after-pywatt') await app.register(otel.plugin())
  await app.register(ipcHttp, { dispatcher: opts.dispatcher ?? 'lean', ...(opts.concurrency === undefined ? {} : { concurrency: opts.concurrency }) })
  app.get('/items/:id', async (req) => {
    // A span the handler starts is a child of the request span: the context flows into handlers.
    const span = trace.getTracer('test').startSpan('work')
    span.end()
    await new Promise((resolve) => setTimeout(resolve, 5))
    return { id: (req.params as { id: string }).id, traceId: trace.getActiveSpan()?.spanContext().traceId ?? null }
  })
  app.get('/untraced', { config: { otel: false } }, async () => ({ ok: true }))
  await app.ready()
  await Promise.all([tcp.connected(), unix.connected()])
  return { orch, log, app, tcp, unix }
}

type Module = Awaited<ReturnType<typeof boot>>

/** A random W3C `traceparent`, sampled, and its ids. */
function traceparent (): { header: string, traceId: string, spanId: string } {
  const hex = (bytes: number): string => Buffer.from(Array.from({ length: bytes }, () => Math.floor(Math.random() * 256))).toString('hex')
  const traceId = hex(16)
  const spanId = hex(8)
  return { header: `00-${traceId}-${spanId}-01`, traceId, spanId }
}

/** GET `uri` with `headers` over `transport`; resolves with the status and the parsed body. */
async function get (m: Module, transport: RequestTransport, uri: string, headers: Record<string, string>): Promise<{ status: number, body: any }> {
  switch (transport) {
    case 'http': {
      const { port } = m.app.server.address() as AddressInfo
      const res = await fetch(`http://127.0.0.1:${port}${uri}`, { headers })
      return { status: res.status, body: await res.json() }
    }
    case 'stdio': {
      const id = `stdio-${Math.random()}`
      m.orch.send({ op: 'http_request', request_id: id, method: 'GET', uri, headers })
      const line: Line = await m.orch.waitFor((l) => l.content?.request_id === id)
      return { status: line.content.status_code, body: JSON.parse(Buffer.from(line.content.body as number[]).toString()) }
    }
    case 'tcp':
    case 'unix': {
      const res = await (transport === 'tcp' ? m.tcp : m.unix).request({ method: 'GET', uri, headers })
      return { status: res.status_code, body: JSON.parse(Buffer.from(res.body ?? []).toString()) }
    }
  }
}

/** The finished spans of one trace. */
function spansOf (traceId: string): ReadableSpan[] {
  return exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId)
}

/** The request span @fastify/otel made for one request. */
function requestSpan (traceId: string): ReadableSpan | undefined {
  return spansOf(traceId).find((s) => s.attributes['fastify.root'] === '@fastify/otel')
}

const TRANSPORTS: RequestTransport[] = ['http', 'stdio', 'tcp', 'unix']

for (const dispatcher of ['lean', 'inject'] as const) {
  t.test(`dispatcher ${dispatcher}: every transport gets the same server span, parented by the incoming traceparent`, async (t) => {
    const m = await boot(t, { dispatcher })
    await m.app.listen({ host: '127.0.0.1', port: 0 })
    const shapes: Record<string, string[]> = {}
    for (const transport of TRANSPORTS) {
      const parent = traceparent()
      const res = await get(m, transport, '/items/42?x=1', { traceparent: parent.header })
      t.equal(res.status, 200, `${transport}: served`)
      t.same(res.body, { id: '42', traceId: parent.traceId }, `${transport}: the handler runs in the incoming trace`)
      const span = requestSpan(parent.traceId)
      if (span === undefined) {
        t.fail(`${transport}: no request span in the trace of the traceparent`)
        continue
      }
      t.equal(span.name, 'request', transport)
      t.equal(span.kind, SpanKind.SERVER, `${transport}: a server span`)
      t.equal(span.parentSpanContext?.spanId, parent.spanId, `${transport}: its parent is the caller's span`)
      t.equal(span.parentSpanContext?.isRemote, true, `${transport}: a remote parent`)
      t.match(span.attributes, {
        'http.request.method': 'GET',
        'http.route': '/items/:id',
        'url.path': '/items/42?x=1',
        'http.response.status_code': 200,
        'pywatt.transport': transport
      }, `${transport}: attributes`)
      t.ok(span.ended, transport)
      shapes[transport] = Object.keys(span.attributes).sort()
      const work = spansOf(parent.traceId).find((s) => s.name === 'work')
      t.ok(work !== undefined, `${transport}: the handler's own span is in the trace`)
      const handler = spansOf(parent.traceId).find((s) => s.spanContext().spanId === work?.parentSpanContext?.spanId)
      t.equal(handler?.parentSpanContext?.spanId, span.spanContext().spanId, `${transport}: under the handler span, under the request span`)
    }
    for (const transport of TRANSPORTS) t.same(shapes[transport], shapes.http, `${transport}: the same attributes as over HTTP`)
  })
}

t.test('without a traceparent each request starts its own trace, still marked with its transport', async (t) => {
  const m = await boot(t)
  await m.app.listen({ host: '127.0.0.1', port: 0 })
  for (const transport of TRANSPORTS) {
    exporter.reset()
    const res = await get(m, transport, '/items/7', {})
    t.equal(res.status, 200)
    const span = requestSpan(res.body.traceId)
    t.ok(span !== undefined, `${transport}: a request span`)
    t.equal(span?.parentSpanContext, undefined, `${transport}: a root span`)
    t.equal(span?.attributes['pywatt.transport'], transport)
  }
})

t.test('a route with otel: false has no span to mark and is served as usual', async (t) => {
  const m = await boot(t)
  exporter.reset()
  const parent = traceparent()
  for (const transport of ['stdio', 'tcp'] as const) {
    const res = await get(m, transport, '/untraced', { traceparent: parent.header })
    t.same(res, { status: 200, body: { ok: true } }, transport)
  }
  t.same(exporter.getFinishedSpans().filter((s) => s.attributes['fastify.root'] === '@fastify/otel'), [], 'no request span')
})

t.test('queued requests keep their own traceparent (no context carried over from the request before)', async (t) => {
  const m = await boot(t, { concurrency: 1 })
  const parents = [traceparent(), traceparent(), traceparent()]
  const replies = await Promise.all(parents.map(async (p) => await get(m, 'stdio', '/items/1', { traceparent: p.header })))
  for (const [i, p] of parents.entries()) {
    t.equal(replies[i].body.traceId, p.traceId)
    t.equal(requestSpan(p.traceId)?.parentSpanContext?.spanId, p.spanId)
  }
})

t.test('registerOnInitialization: @fastify/otel is in place before anything, spans are marked', async (t) => {
  const m = await boot(t, { order: 'on-initialization' })
  const parent = traceparent()
  const res = await get(m, 'tcp', '/items/9', { traceparent: parent.header })
  t.equal(res.body.traceId, parent.traceId)
  t.equal(requestSpan(parent.traceId)?.attributes['pywatt.transport'], 'tcp')
  t.notOk(m.log.entries().some((e) => /@fastify\/otel/.test(e.msg)), 'no warning')
})

t.test('@fastify/otel registered after fastify-pywatt: spans still work, without the transport; a warning says why', async (t) => {
  const m = await boot(t, { order: 'after-pywatt' })
  const parent = traceparent()
  const res = await get(m, 'stdio', '/items/3', { traceparent: parent.header })
  t.equal(res.body.traceId, parent.traceId, 'tracing itself works over the tunnel')
  const span = requestSpan(parent.traceId)
  t.equal(span?.parentSpanContext?.spanId, parent.spanId)
  t.notOk(span !== undefined && 'pywatt.transport' in span.attributes, 'no transport attribute')
  t.ok(m.log.entries().some((e) => e.level === 40 && /register @fastify\/otel before fastify-pywatt/.test(e.msg)), 'warned')
})

t.test('without @fastify/otel nothing changes and nothing is said', async (t) => {
  const orch = new FakeOrchestrator()
  orch.init({ module_id: 'no-otel' })
  const log = captureLogger()
  const app: FastifyInstance = Fastify({ loggerInstance: log.logger })
  t.after(() => app.close())
  await app.register(pywatt, { io: orch.io, health: false })
  await app.register(ipcHttp)
  app.get('/x', async () => ({ ok: true }))
  await app.ready()
  orch.send({ op: 'http_request', request_id: 'r', method: 'GET', uri: '/x', headers: { traceparent: traceparent().header } })
  t.equal((await orch.waitFor((l) => l.content?.request_id === 'r')).content.status_code, 200)
  t.notOk(log.entries().some((e) => /otel/.test(e.msg)))
})
