import t, { type Test } from 'tap'
import Fastify from 'fastify'
import pywatt from '../../plugins/index.js'
import portNegotiation, { type PortNegotiationOptions } from '../../plugins/port-negotiation.js'
import { freePort } from '../../lib/dev/free-port.js'
import { FakeOrchestrator, until, type Line } from '../helpers/fake-orchestrator.js'
import { captureLogger } from '../helpers/log-capture.js'
import { accepts, externalIPv4 } from '../helpers/net.js'

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

async function boot (t: Test, listen: string, opts: PortNegotiationOptions = {}) {
  const orch = new FakeOrchestrator()
  const log = captureLogger()
  const app = Fastify({ loggerInstance: log.logger })
  t.after(() => app.close())
  orch.init({ listen })
  await app.register(pywatt, { io: orch.io })
  await app.register(portNegotiation, { timeouts: [200, 200, 200], ...opts })
  return { orch, log, app }
}

function grant (orch: FakeOrchestrator, request: Line, port: number): void {
  orch.send({ op: 'port_response', request_id: request.request_id, success: true, port, error_message: null })
}

t.test('end to end: listen() sends port_request, binds the granted port on 127.0.0.1 and announces it', async (t) => {
  const { orch, app } = await boot(t, '/tmp/pywatt-not-a-tcp-address.sock')
  const listening = app.pywatt.listen()
  const request = await orch.waitFor((l) => l.op === 'port_request')
  const raw = orch.raw.find((r) => r.includes('"port_request"')) as string
  t.match(raw, /^\{"op":"port_request","request_id":"[0-9a-f-]{36}","specific_port":null\}$/, 'the wire shape of docs/protocol.md §10.1')
  t.match(request.request_id, UUID_V4)
  t.same(orch.ops('announce'), [], 'nothing is announced before a port is agreed')
  const port = await freePort()
  grant(orch, request, port)
  const listen = await listening
  t.equal(listen, `127.0.0.1:${port}`)
  const announce = await orch.waitFor((l) => l.op === 'announce')
  t.equal(announce.listen, listen, 'the announce carries the granted port')
  const res = await fetch(`http://${listen}/health`)
  t.equal(res.status, 200, 'and the app really listens there')
})

t.test('init.listen with port 0: no negotiation, the system picks; with the port option, negotiate and bind the IP the orchestrator named', async (t) => {
  const any = await boot(t, '[::1]:0')
  const picked = await any.app.pywatt.listen()
  t.match(picked, /^\[::1\]:\d+$/)
  t.same(any.orch.ops('port_request'), [], 'port 0 is a usable address')

  const port = await freePort('::1')
  const { orch, app } = await boot(t, '[::1]:0', { port })
  const listening = app.pywatt.listen()
  grant(orch, await orch.waitFor((l) => l.op === 'port_request'), port)
  t.equal(await listening, `[::1]:${port}`)
  t.equal((await orch.waitFor((l) => l.op === 'announce')).listen, `[::1]:${port}`)
  t.equal(await accepts('::1', port), true)
})

t.test('init.listen with a port: no negotiation; the port option asks for a specific port anyway', async (t) => {
  const told = await freePort()
  const plain = await boot(t, `127.0.0.1:${told}`)
  t.equal(await plain.app.pywatt.listen(), `127.0.0.1:${told}`)
  t.same(plain.orch.ops('port_request'), [], 'the pre-allocated port is used as given')

  const wanted = await freePort()
  const specific = await boot(t, `127.0.0.1:${await freePort()}`, { port: wanted })
  const listening = specific.app.pywatt.listen()
  const request = await specific.orch.waitFor((l) => l.op === 'port_request')
  t.equal(request.specific_port, wanted)
  grant(specific.orch, request, wanted)
  t.equal(await listening, `127.0.0.1:${wanted}`)
})

t.test('retries go out on the wire with new ids and the same port; a retry\'s answer is used', async (t) => {
  const wanted = await freePort()
  const { orch, app } = await boot(t, '/tmp/unused.sock', { port: wanted, timeouts: [40, 40, 2000] })
  const listening = app.pywatt.listen()
  await until(() => orch.ops('port_request').length === 3)
  const requests = orch.ops('port_request')
  t.equal(new Set(requests.map((r) => r.request_id)).size, 3)
  t.same(requests.map((r) => r.specific_port), [wanted, wanted, wanted])
  grant(orch, requests[2] as Line, wanted)
  t.equal(await listening, `127.0.0.1:${wanted}`)
})

t.test('a refusal fails listen() with FST_PYWATT_PORT_NEGOTIATION: nothing bound, nothing announced', async (t) => {
  const { orch, app } = await boot(t, '/tmp/unused.sock')
  const listening = app.pywatt.listen()
  const request = await orch.waitFor((l) => l.op === 'port_request')
  orch.send({ op: 'port_response', request_id: request.request_id, success: false, port: 0, error_message: 'no ports left' })
  await t.rejects(listening, { code: 'FST_PYWATT_PORT_NEGOTIATION', reason: 'refused', message: /no ports left/ })
  t.equal(app.server.listening, false)
  t.same(orch.ops('announce'), [])
})

t.test('timeouts without fallback fail listen(); port_response lines after that are ignored', async (t) => {
  const { orch, app, log } = await boot(t, '/tmp/unused.sock', { timeouts: [30, 30] })
  await t.rejects(app.pywatt.listen(), { code: 'FST_PYWATT_PORT_NEGOTIATION', reason: 'timeout' })
  t.equal(orch.ops('port_request').length, 2)
  grant(orch, orch.ops('port_request')[0] as Line, 4444)
  await until(() => log.entries().some((e) => /matches no waiting port_request/.test(e.msg)))
  t.equal(app.server.listening, false)
  t.same(orch.ops('announce'), [])
})

t.test('opt-in fallback: the port really bound is announced, reachable on loopback only', async (t) => {
  const { orch, app, log } = await boot(t, '/tmp/unused.sock', { timeouts: [30], fallback: true })
  const listen = await app.pywatt.listen()
  t.match(listen, /^127\.0\.0\.1:\d+$/)
  const port = Number(listen.split(':')[1])
  t.not(port, 0)
  t.equal((await orch.waitFor((l) => l.op === 'announce')).listen, listen)
  t.ok(log.entries().some((e) => e.level === 40 && /never agreed/.test(e.msg)), 'the fallback is a warning')
  t.equal(await accepts('127.0.0.1', port), true)
  t.equal((await fetch(`http://${listen}/health`)).status, 200)
  const external = externalIPv4()
  if (external !== undefined) t.equal(await accepts(external, port), false, `not reachable on ${external}`)
})

t.test('fallback also covers a refusal and an open breaker', async (t) => {
  const { orch, app } = await boot(t, '/tmp/unused.sock', { fallback: true, breaker: { threshold: 1, halfOpenAfter: 60_000 } })
  const first = app.pywatt.listen()
  const request = await orch.waitFor((l) => l.op === 'port_request')
  orch.send({ op: 'port_response', request_id: request.request_id, success: false, port: 0, error_message: 'no' })
  t.match(await first, /^127\.0\.0\.1:\d+$/)
  await t.rejects((app.pywatt.negotiatePort as (p?: number) => Promise<number>)(), { code: 'FST_PYWATT_PORT_NEGOTIATION', reason: 'circuit-open' })
})

t.test('negotiatePort() on demand; close() fails a negotiation still waiting', async (t) => {
  const { orch, app } = await boot(t, '/tmp/unused.sock', { port: 8100, timeouts: [5000] })
  const negotiatePort = app.pywatt.negotiatePort as (p?: number) => Promise<number>
  const asked = negotiatePort(8200)
  const request = await orch.waitFor((l) => l.op === 'port_request')
  t.equal(request.specific_port, 8200, 'the argument wins over the option')
  grant(orch, request, 8200)
  t.equal(await asked, 8200)
  const byOption = negotiatePort()
  await until(() => orch.ops('port_request').length === 2)
  t.equal(orch.ops('port_request')[1]?.specific_port, 8100)
  const listening = app.pywatt.listen()
  await until(() => orch.ops('port_request').length === 3)
  await app.close()
  await t.rejects(byOption, { code: 'FST_PYWATT_PORT_NEGOTIATION', reason: 'closed' })
  await t.rejects(listening, { code: 'FST_PYWATT_PORT_NEGOTIATION', reason: 'closed' })
})

t.test('a closing app does not fall back', async (t) => {
  const { orch, app } = await boot(t, '/tmp/unused.sock', { timeouts: [5000], fallback: true })
  const listening = app.pywatt.listen()
  await orch.waitFor((l) => l.op === 'port_request')
  await app.close()
  await t.rejects(listening, { code: 'FST_PYWATT_PORT_NEGOTIATION', reason: 'closed' })
  t.same(orch.ops('announce'), [])
})

t.test('standalone: no negotiation, HOST/PORT as without the plugin', async (t) => {
  const prevPort = process.env.PORT
  process.env.PORT = '0'
  t.after(() => { if (prevPort === undefined) delete process.env.PORT; else process.env.PORT = prevPort })
  const log = captureLogger()
  const app = Fastify({ loggerInstance: log.logger })
  t.after(() => app.close())
  await app.register(pywatt, { standalone: true })
  await app.register(portNegotiation, { port: 8123 })
  const listen = await app.pywatt.listen()
  t.match(listen, /^127\.0\.0\.1:\d+$/)
  t.not(listen, '127.0.0.1:8123', 'the port option needs an orchestrator')
  t.ok(log.entries().some((e) => /standalone: no port negotiation/.test(e.msg)))
  await t.rejects((app.pywatt.negotiatePort as () => Promise<number>)(), { code: 'FST_PYWATT_PORT_NEGOTIATION', reason: 'standalone' })
})

t.test('options are checked at registration; the root plugin is required', async (t) => {
  const bad: Array<[unknown, RegExp]> = [
    [{ port: 0 }, /port/],
    [{ port: 70000 }, /port/],
    [{ timeouts: [] }, /timeouts/],
    [{ timeouts: [0] }, /timeouts\.0/],
    [{ breaker: { threshold: 0 } }, /breaker\.threshold/],
    [{ breaker: { halfOpenAfter: -1 } }, /breaker\.halfOpenAfter/],
    [{ fallback: 'yes' }, /fallback/],
    [{ retries: 3 }, /options/]
  ]
  for (const [opts, message] of bad) {
    const orch = new FakeOrchestrator()
    const app = Fastify()
    t.after(() => app.close())
    orch.init()
    await app.register(pywatt, { io: orch.io })
    await t.rejects(async () => { await app.register(portNegotiation, opts as PortNegotiationOptions) },
      { code: 'FST_PYWATT_INVALID_OPTIONS', message }, JSON.stringify(opts))
  }
  const alone = Fastify()
  t.after(() => alone.close())
  await t.rejects(async () => { await alone.register(portNegotiation) }, { code: 'FST_ERR_PLUGIN_NOT_PRESENT_IN_INSTANCE' })
})
