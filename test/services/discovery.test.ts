import t, { type Test } from 'tap'
import { readFileSync } from 'node:fs'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { once } from 'node:events'
import Fastify, { type FastifyInstance } from 'fastify'
import pywatt from '../../plugins/index.js'
import { DiscoveryServer, UNKNOWN_MODULE } from '../../lib/dev/discovery-server.js'
import { freePort } from '../../lib/dev/free-port.js'
import { decodeDiscoveryReply, encodeDiscoveryRequest, serviceType } from '../../lib/services/discovery-client.js'
import { discoverySettings } from '../../lib/services/discovery-options.js'
import { encodeFrame, encodeOrchestratorMessage, readFrame } from '../../lib/protocol/index.js'
import { FakeOrchestrator, until } from '../helpers/fake-orchestrator.js'

interface Vector { name: string, json: any, wire_text: string }
const vectors = (name: string): Vector[] =>
  JSON.parse(readFileSync(new URL(`../fixtures/vectors/${name}.json`, import.meta.url), 'utf8')) as Vector[]

async function devServer (t: Test): Promise<DiscoveryServer> {
  const server = new DiscoveryServer()
  await server.listen()
  t.after(() => server.close())
  return server
}

/** A module app under a fake orchestrator; `env` becomes `init.env`. */
async function moduleApp (t: Test, opts: { moduleId?: string, env?: Record<string, string>, discovery?: Record<string, unknown> } = {}): Promise<FastifyInstance> {
  const orch = new FakeOrchestrator()
  const app = Fastify()
  t.after(() => app.close())
  orch.init({ module_id: opts.moduleId ?? 'test-module', env: opts.env ?? {} })
  await app.register(pywatt, { io: orch.io, db: false, cache: false, ...(opts.discovery === undefined ? {} : { discovery: opts.discovery }) })
  return app
}

/** A TCP server that accepts connections and never answers. */
async function silentServer (t: Test): Promise<{ address: string, server: Server, connections: () => number }> {
  let count = 0
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    count++
    sockets.add(socket)
    socket.on('error', () => {})
    socket.resume()
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  const { port } = server.address() as { port: number }
  return { address: `127.0.0.1:${port}`, server, connections: () => count }
}

t.test('register then discover: one provider, all providers, the default address is the announced one', async (t) => {
  const server = await devServer(t)
  const app = await moduleApp(t, { env: { PYWATT_DISCOVERY_ADDRESS: server.address } })
  const listen = await app.pywatt.listen()

  const geoA = await app.pywatt.services.register({ name: 'geo-a', type: 'geo', version: '1.2.0', metadata: { region: 'eu' } })
  const geoB = await app.pywatt.services.register({ name: 'geo-b', type: { Custom: 'geo' }, address: '127.0.0.1:7001' })
  const cache = await app.pywatt.services.register({ name: 'redis-main', type: 'Cache', address: '127.0.0.1:6379' })
  t.not(geoA, geoB)

  const one = await app.pywatt.services.discover('geo')
  t.same(one, [{ provider_id: geoA, module_id: 'test-module', service_type: { Custom: 'geo' }, name: 'geo-a', version: '1.2.0', address: listen, metadata: { region: 'eu' }, is_healthy: true }],
    'without all: the earliest provider; its module is the metadata.source of the request; its address the announced one')
  const all = await app.pywatt.services.discover('geo', { all: true })
  t.same(all.map((p) => [p.name, p.address]), [['geo-a', listen], ['geo-b', '127.0.0.1:7001']])
  t.same((await app.pywatt.services.discover('Cache', { all: true })).map((p) => [p.provider_id, p.service_type]), [[cache, 'Cache']], 'a built-in type by its name')
  t.same(await app.pywatt.services.discover('nothing-here', { all: true }), [])
  t.equal(server.connections, 1, 'one connection carried every request')

  t.equal(await app.pywatt.services.register({ name: 'geo-a', type: 'geo', address: '127.0.0.1:7000' }), geoA, 'registering again updates the same provider')
  t.equal((await app.pywatt.services.discover('geo'))[0]?.address, '127.0.0.1:7000')
})

t.test('without an announce the default address is init.listen', async (t) => {
  const server = await devServer(t)
  const app = await moduleApp(t, { env: { PYWATT_DISCOVERY_ADDRESS: server.address } })
  await app.pywatt.services.register({ name: 'solo' })
  t.equal(server.providers()[0]?.address, app.pywatt.init.listen)
})

t.test('a refused registration rejects with FST_PYWATT_DISCOVERY and the orchestrator\'s reason; forget() frees the name', async (t) => {
  const server = await devServer(t)
  const env = { PYWATT_DISCOVERY_ADDRESS: server.address }
  const owner = await moduleApp(t, { moduleId: 'owner', env })
  const other = await moduleApp(t, { moduleId: 'other', env })
  await owner.pywatt.services.register({ name: 'geo', address: '127.0.0.1:7000' })
  const err = await other.pywatt.services.register({ name: 'geo', address: '127.0.0.1:7100' }).catch((e: unknown) => e)
  t.match(err, { code: 'FST_PYWATT_DISCOVERY', statusCode: 503, message: /registration of geo \(Custom\(geo\)\) refused: provider geo of this service type is already registered by module owner/ })
  await t.rejects(other.pywatt.services.register({ name: 'empty', address: '' }), { code: 'FST_PYWATT_DISCOVERY', message: /refused: provider empty needs an address/ })

  t.equal(server.forget('owner'), 1, 'the stopped module\'s provider is removed')
  t.same(await other.pywatt.services.discover('geo'), [])
  await other.pywatt.services.register({ name: 'geo', address: '127.0.0.1:7100' })
  t.same((await owner.pywatt.services.discover('geo')).map((p) => p.module_id), ['other'])
})

t.test('timeouts: a discovery is retried on a new connection, a registration that was sent is not', async (t) => {
  const silent = await silentServer(t)
  const app = await moduleApp(t, { discovery: { address: silent.address, timeout: 200, retries: 1 } })
  const started = Date.now()
  await t.rejects(app.pywatt.services.discover('geo'), { code: 'FST_PYWATT_DISCOVERY', message: `discovery of Custom(geo) at ${silent.address}: no reply within 200 ms (after 2 attempts)` })
  t.ok(Date.now() - started >= 480, 'two timeouts and one backoff')
  t.equal(silent.connections(), 2, 'the connection of the timed-out attempt was dropped')

  await t.rejects(app.pywatt.services.register({ name: 'geo' }), { code: 'FST_PYWATT_DISCOVERY', message: `registration of geo (Custom(geo)) at ${silent.address}: no reply within 200 ms` })
  t.equal(silent.connections(), 3, 'a registration that may have been recorded is not sent twice')
})

t.test('bounded retry against a closed port: fails after retries + 1 attempts with backoff', async (t) => {
  const port = await freePort()
  const app = await moduleApp(t, { discovery: { address: `127.0.0.1:${port}`, retries: 2 } })
  const started = Date.now()
  await t.rejects(app.pywatt.services.discover('geo'), { code: 'FST_PYWATT_DISCOVERY', message: /ECONNREFUSED.*\(after 3 attempts\)$/ })
  t.ok(Date.now() - started >= 290, 'waited 100 then 200 ms between attempts')
  await t.rejects(app.pywatt.services.register({ name: 'geo' }), { message: /ECONNREFUSED.*\(after 3 attempts\)$/ }, 'a registration that could not be sent is retried')

  const once = await moduleApp(t, { moduleId: 'm2', discovery: { address: `127.0.0.1:${port}`, retries: 0 } })
  await t.rejects(once.pywatt.services.discover('geo'), { message: /ECONNREFUSED 127\.0\.0\.1:\d+$/ }, 'retries: 0 is one attempt')
})

t.test('the endpoint closing an idle connection: the next request connects again', async (t) => {
  const dev = await devServer(t)
  const app = await moduleApp(t, { env: { PYWATT_DISCOVERY_ADDRESS: dev.address } })
  await app.pywatt.services.register({ name: 'geo', address: '127.0.0.1:1' })
  // Closing from the server side between two requests: the client notices and reconnects.
  const port = Number(dev.address.split(':')[1])
  await dev.close()
  const again = new DiscoveryServer(port)
  await again.listen()
  t.after(() => again.close())
  t.same(await app.pywatt.services.discover('geo'), [], 'a new endpoint, reached on a new connection')
  t.equal(again.connections, 1)
})

/** An endpoint that answers each request frame with `answer(n)` (n counts requests from 1). */
async function scriptedServer (t: Test, answer: (n: number) => Buffer): Promise<{ address: string, connections: () => number }> {
  let requests = 0
  let count = 0
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    count++
    sockets.add(socket)
    socket.on('error', () => {})
    socket.on('data', () => socket.write(answer(++requests)))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return { address: `127.0.0.1:${(server.address() as { port: number }).port}`, connections: () => count }
}

t.test('a misbehaving endpoint: an unsolicited frame costs the connection, a framing error fails the request', async (t) => {
  const empty = encodeFrame('{"op":"discover_service_providers_response","success":true,"providers":[],"error":null}')
  const twice = await scriptedServer(t, (n) => n === 1 ? Buffer.concat([empty, empty]) : empty)
  const app = await moduleApp(t, { discovery: { address: twice.address } })
  t.same(await app.pywatt.services.discover('geo'), [])
  await until(() => twice.connections() === 1)
  t.same(await app.pywatt.services.discover('geo'), [], 'answered on a new connection')
  t.equal(twice.connections(), 2, 'the connection that sent a frame nobody asked for was dropped')

  const badFormat = await scriptedServer(t, () => Buffer.from([0, 0, 0, 2, 9, 0x7b, 0x7d]))
  const other = await moduleApp(t, { moduleId: 'm2', discovery: { address: badFormat.address } })
  await t.rejects(other.pywatt.services.discover('geo'), { code: 'FST_PYWATT_DISCOVERY', message: /framing error: .*invalid frame format byte 9/ })
  t.equal(badFormat.connections(), 1, 'not retried: the endpoint does not speak the protocol')

  const refusing = await scriptedServer(t, () => encodeFrame('{"op":"discover_service_providers_response","success":false,"providers":[],"error":"not today"}'))
  const third = await moduleApp(t, { moduleId: 'm3', discovery: { address: refusing.address } })
  await t.rejects(third.pywatt.services.discover('geo'), { message: /discovery of Custom\(geo\) refused: not today$/ })
  const wrong = await scriptedServer(t, () => encodeFrame('{"op":"heartbeat"}'))
  const fourth = await moduleApp(t, { moduleId: 'm4', discovery: { address: wrong.address } })
  await t.rejects(fourth.pywatt.services.register({ name: 'x' }), { message: `Service discovery failed: registration of x (Custom(x)) at ${wrong.address}: unexpected reply heartbeat` })
})

t.test('concurrency: 10 parallel discoveries, one in flight at a time, each gets its own answer', async (t) => {
  const server = await devServer(t)
  const app = await moduleApp(t, { env: { PYWATT_DISCOVERY_ADDRESS: server.address } })
  const names = Array.from({ length: 10 }, (_, i) => `svc-${i}`)
  await Promise.all(names.map((name, i) => app.pywatt.services.register({ name, address: `127.0.0.1:${7000 + i}` })))
  const found = await Promise.all(names.map((name) => app.pywatt.services.discover(name)))
  t.same(found.map((providers) => providers.map((p) => [p.name, p.address])), names.map((name, i) => [[name, `127.0.0.1:${7000 + i}`]]))
  t.equal(server.connections, 1)
})

t.test('onClose closes the connection; later calls reject', async (t) => {
  const server = await devServer(t)
  const app = await moduleApp(t, { env: { PYWATT_DISCOVERY_ADDRESS: server.address } })
  await app.pywatt.services.discover('geo')
  t.equal(server.openConnections, 1)
  const services = app.pywatt.services
  await app.close()
  await until(() => server.openConnections === 0)
  await t.rejects(services.discover('geo'), { code: 'FST_PYWATT_DISCOVERY', message: /the discovery client is closed/ })
})

t.test('close() during a wait fails the request in flight and the queued ones', async (t) => {
  const silent = await silentServer(t)
  const app = await moduleApp(t, { discovery: { address: silent.address, timeout: 5_000 } })
  const first = app.pywatt.services.discover('a')
  const second = app.pywatt.services.discover('b')
  await until(() => silent.connections() === 1)
  const started = Date.now()
  await app.close()
  await t.rejects(first, { code: 'FST_PYWATT_DISCOVERY', message: /closed/ })
  await t.rejects(second, { code: 'FST_PYWATT_DISCOVERY', message: /closed/ })
  t.ok(Date.now() - started < 1_000, 'without waiting for the timeout')
})

t.test('no endpoint: calls reject with a message that says how to name one', async (t) => {
  const app = await moduleApp(t)
  await t.rejects(app.pywatt.services.discover('geo'), { code: 'FST_PYWATT_DISCOVERY', message: /no discovery endpoint is configured \(set the discovery.address option, or PYWATT_DISCOVERY_ADDRESS in init.env or the environment\)/ })
  const bad = await moduleApp(t, { moduleId: 'bad', discovery: { address: 'not an address' } })
  await t.rejects(bad.pywatt.services.register({ name: 'x' }), { message: /the discovery address "not an address" is not host:port/ })
  await t.rejects(moduleApp(t, { moduleId: 'worse', discovery: { retries: -1 } }), { code: 'FST_PYWATT_INVALID_OPTIONS', message: /discovery.retries/ })
})

t.test('the address: the option, then init.env, then the process environment; a host name works', async (t) => {
  const variable = 'PYWATT_DISCOVERY_ADDRESS'
  t.equal(discoverySettings({ address: 'a:1' }, { [variable]: 'b:2' }, { [variable]: 'c:3' }).address, 'a:1')
  t.equal(discoverySettings(undefined, { [variable]: 'b:2' }, { [variable]: 'c:3' }).address, 'b:2')
  t.equal(discoverySettings({}, {}, { [variable]: 'c:3' }).address, 'c:3')
  t.equal(discoverySettings({}, { [variable]: '' }, {}).address, null)
  t.match(discoverySettings(undefined, {}, {}), { timeout: 5_000, retries: 2 })

  const server = await devServer(t)
  const app = await moduleApp(t, { discovery: { address: server.address.replace('127.0.0.1', 'localhost') } })
  t.same(await app.pywatt.services.discover('geo'), [])
})

t.test('service types: built-in names, custom names, custom objects', async (t) => {
  t.equal(serviceType('Database'), 'Database')
  t.equal(serviceType('Jwt'), 'Jwt')
  t.same(serviceType('database'), { Custom: 'database' }, 'names are case-sensitive, as Rust\'s variants')
  t.same(serviceType({ Custom: 'Cache' }), { Custom: 'Cache' })
})

t.test('docs/protocol.md §14.3 vectors: requests encode as Rust writes them, replies decode', async (t) => {
  for (const v of [...vectors('register_service_provider'), ...vectors('discover_service_providers')]) {
    const text = encodeDiscoveryRequest(v.json, undefined, '6f1c1b8e-9d2a-4c1e-8f3b-2a5d7c9e0b11')
    const envelope = JSON.parse(text) as { id: string, content: unknown, metadata: { id: string } }
    t.ok(text.startsWith(`{"id":"6f1c1b8e-9d2a-4c1e-8f3b-2a5d7c9e0b11","content":${v.wire_text},"metadata":{"id":"`), `${v.name}: the vector's bytes, in an envelope`)
    t.match(envelope.metadata.id, /^[0-9a-f-]{36}$/, `${v.name}: metadata.id is a fresh UUID, as Rust's client`)
    t.same(Object.keys(envelope.metadata), ['id'], 'without a source, nothing else')
    t.same(JSON.parse(encodeDiscoveryRequest(v.json, 'm1')).metadata.source, 'm1')
  }
  for (const v of [...vectors('register_service_provider_response'), ...vectors('discover_service_providers_response')]) {
    const reply = decodeDiscoveryReply(1, Buffer.from(v.wire_text))
    t.same(JSON.parse(encodeOrchestratorMessage(reply)), v.json, `${v.name}: decodes, and encodes back to the vector`)
    t.equal(encodeOrchestratorMessage(reply), v.wire_text, `${v.name}: byte for byte`)
  }
  t.throws(() => decodeDiscoveryReply(1, Buffer.from('{"op":"heartbeat"}')), { code: 'FST_PYWATT_DISCOVERY', message: /unexpected reply heartbeat/ })
  t.throws(() => decodeDiscoveryReply(0, Buffer.from('{}')), { code: 'FST_PYWATT_DISCOVERY', message: /undecodable reply/ })
})

t.test('the dev server answers a Rust client\'s frames (no metadata.source): the provider\'s module is "unknown"', async (t) => {
  const server = await devServer(t)
  const [host, port] = server.address.split(':') as [string, string]
  const socket = connect({ host, port: Number(port) })
  t.after(() => socket.destroy())
  await once(socket, 'connect')
  let buffered = Buffer.alloc(0)
  const next = async (): Promise<string> => {
    for (;;) {
      const frame = readFrame(buffered)
      if (frame !== undefined) {
        buffered = buffered.subarray(frame.size)
        return frame.payload.toString('utf8')
      }
      const [chunk] = await once(socket, 'data') as [Buffer]
      buffered = Buffer.concat([buffered, chunk])
    }
  }
  const register = vectors('register_service_provider')[0] as Vector
  socket.write(encodeFrame(`{"id":"6f1c1b8e-9d2a-4c1e-8f3b-2a5d7c9e0b11","content":${register.wire_text},"metadata":{"id":"0b9f4c2e-1a3d-4e5f-8a7b-6c5d4e3f2a10"}}`))
  const registered = JSON.parse(await next())
  t.match(registered, { op: 'register_service_provider_response', success: true, provider_id: /^[0-9a-f-]{36}$/, error: null }, 'a bare reply frame')
  const discover = vectors('discover_service_providers')[0] as Vector
  socket.write(encodeFrame(`{"id":"6f1c1b8e-9d2a-4c1e-8f3b-2a5d7c9e0b11","content":${discover.wire_text.replace('Database', 'Cache')},"metadata":{}}`))
  t.same(JSON.parse(await next()).providers, [{ provider_id: registered.provider_id, module_id: UNKNOWN_MODULE, service_type: 'Cache', name: 'redis-main', version: null, address: '127.0.0.1:6379', metadata: {}, is_healthy: true }])

  const broken = connect({ host, port: Number(port) })
  broken.on('error', () => {})
  const fault = once(server, 'invalid')
  broken.write(Buffer.from([0, 0, 0, 0, 0]))
  t.match((await fault)[0], { code: 'FST_PYWATT_PROTOCOL' }, 'a framing error closes that connection')
  await once(broken, 'close')

  const invalid = once(server, 'invalid')
  socket.write(encodeFrame('{"id":"6f1c1b8e-9d2a-4c1e-8f3b-2a5d7c9e0b11","content":{"op":"announce","listen":"127.0.0.1:1","endpoints":[]},"metadata":{}}'))
  t.match((await invalid)[0], { message: /not a discovery request/ })
  await once(socket, 'close')
  t.pass('a frame that is no discovery request closes its connection')
})
