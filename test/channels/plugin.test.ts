import t, { type Test } from 'tap'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify from 'fastify'
import pywatt, { EXIT, type ModuleMessageDelivery } from '../../plugins/index.js'
import ipcHttp from '../../plugins/ipc-http.js'
import { ChannelServer } from '../../lib/dev/channel-server.js'
import { encodeFrame } from '../../lib/protocol/index.js'
import { FakeOrchestrator, until } from '../helpers/fake-orchestrator.js'
import { captureLogger } from '../helpers/log-capture.js'

async function setup (t: Test, opts: { ipc?: boolean, tcp?: boolean, required?: boolean } = { tcp: true }) {
  const orch = new FakeOrchestrator()
  const log = captureLogger()
  const app = Fastify({ loggerInstance: log.logger })
  t.after(() => app.close())
  const servers: { tcp?: ChannelServer, ipc?: ChannelServer } = {}
  const init: Record<string, unknown> = {}
  if (opts.tcp === true) {
    servers.tcp = new ChannelServer({ kind: 'tcp' })
    await servers.tcp.listen()
    init.tcp_channel = { address: servers.tcp.address, tls_enabled: false, required: opts.required ?? false }
  }
  if (opts.ipc === true) {
    servers.ipc = new ChannelServer({ kind: 'unix', path: join(mkdtempSync(join(tmpdir(), 'pw-')), 'p.sock') })
    await servers.ipc.listen()
    init.ipc_channel = { socket_path: servers.ipc.address, required: opts.required ?? false }
  }
  t.after(async () => { for (const s of Object.values(servers)) await s.close() })
  orch.init(init)
  return { orch, log, app, servers }
}

t.test('channels.send: preference order, stdio last, failover counted when a channel is down', async (t) => {
  const { orch, app, servers } = await setup(t, { tcp: true, ipc: true, required: true })
  await app.register(pywatt, { io: orch.io })
  const tcp = servers.tcp as ChannelServer
  const ipc = servers.ipc as ChannelServer
  await Promise.all([tcp.connected(), ipc.connected()])
  const { channels } = app.pywatt
  t.equal(channels.send({ op: 'heartbeat_ack' }), 'ipc', 'default preference: ipc, tcp, stdio')
  t.equal(channels.send({ op: 'heartbeat_ack' }, { prefer: ['tcp'] }), 'tcp')
  t.equal(channels.send({ op: 'heartbeat_ack' }, { prefer: ['stdio'] }), 'stdio')
  await until(() => ipc.received.length === 1 && tcp.received.length === 1)
  await orch.waitFor((l) => l.op === 'heartbeat_ack')
  t.same(channels.health(), { stdio: 'connected', tcp: 'connected', ipc: 'connected' })
  t.same((await app.inject({ url: '/health' })).json().channels, { stdio: 'connected', tcp: 'connected', ipc: 'connected' }, 'the health route reports them')
  t.equal(channels.stats().failovers, 0)

  ipc.dropConnection()
  await until(() => channels.get('ipc')?.state === 'reconnecting' || channels.get('ipc')?.state === 'connecting')
  t.equal(channels.send({ op: 'heartbeat_ack' }), 'tcp', 'ipc is down: tcp takes it')
  t.equal(channels.stats().failovers, 1)
  const stats = channels.stats()
  t.match(stats, { stdio: { state: 'connected' }, tcp: { state: 'connected', framesOut: 2 }, ipc: { connects: 1 } })
  t.ok((stats.stdio?.framesOut ?? 0) >= 1)
})

t.test('a reply whose connection breaks before it is written goes out on stdio in the stdio shape', async (t) => {
  const { orch, app, servers } = await setup(t)
  await app.register(pywatt, { io: orch.io })
  const tcp = servers.tcp as ChannelServer
  await tcp.connected()
  const { channels } = app.pywatt
  channels.replyHttp('tcp', { request_id: 'r-1', status_code: 200, headers: { 'content-type': 'text/plain' }, body: Buffer.from('hi') })
  channels.get('tcp')?.connection?.destroy()
  const line = await orch.waitFor((l) => l.content?.request_id === 'r-1')
  t.same(line.content, { body: [104, 105], headers: { 'content-type': 'text/plain' }, request_id: 'r-1', status_code: 200 })
  t.same(line.metadata.properties, { correlation_id: 'r-1' })
  t.equal(line.metadata.source, 'test-module')
  t.equal(channels.stats().failovers, 1)
  t.equal(tcp.received.length, 0, 'not sent twice')
})

t.test('with every channel gone, send throws FST_PYWATT_CHANNEL_CLOSED and a reply is logged as lost', async (t) => {
  const { orch, app, log, servers } = await setup(t)
  await app.register(pywatt, { io: orch.io })
  await (servers.tcp as ChannelServer).connected()
  orch.output.destroy()
  await until(() => app.pywatt.channels.health().stdio === 'closed')
  t.throws(() => app.pywatt.channels.send({ op: 'heartbeat_ack' }, { prefer: ['stdio'] }), { code: 'FST_PYWATT_CHANNEL_CLOSED' })
  await (servers.tcp as ChannelServer).close()
  await until(() => app.pywatt.channels.get('tcp')?.state !== 'connected')
  app.pywatt.channels.replyHttp('tcp', { request_id: 'lost', status_code: 200, headers: {} })
  t.ok(log.entries().some((e) => e.msg === 'a reply could not be sent on any channel'))
})

t.test('a consumer that throws on a channel message or on an invalid frame is logged and counted by the channel set; the channel goes on', async (t) => {
  const { orch, app, log, servers } = await setup(t)
  await app.register(pywatt, { io: orch.io })
  await app.ready()
  const tcp = servers.tcp as ChannelServer
  await tcp.connected()
  const { channels } = app.pywatt
  channels.onModuleMessage(() => { throw new Error('module message consumer bug') })
  channels.on('invalid', () => { throw new Error('invalid consumer bug') })
  tcp.send({ op: 'routed_module_message', source_module_id: 'other', original_request_id: '11111111-1111-4111-8111-111111111111', payload: { data: [123, 125], format: 'Json' } })
  tcp.sendRaw(encodeFrame('null'))
  tcp.send({ op: 'heartbeat' })
  await until(() => tcp.received.some((e) => e.content.op === 'heartbeat_ack'))
  t.same(log.entries().filter((e) => e.msg === 'a channel message handler threw').map((e) => [e.channel, e.op ?? e.event, e.err.message]), [
    ['tcp', 'routed_module_message', 'module message consumer bug'],
    ['tcp', 'invalid', 'invalid consumer bug']
  ])
  t.equal(channels.stats().handlerErrors, 2)
  t.equal(channels.get('tcp')?.stats().handlerErrors, 0, 'caught by the set, not left to the socket channel')
})

t.test('module-to-module messages go to fastify.pywatt.modules, or to an onModuleMessage handler while one is set; other stdio-only ops are ignored', async (t) => {
  const { orch, app, log, servers } = await setup(t)
  await app.register(pywatt, { io: orch.io })
  await app.ready()
  const tcp = servers.tcp as ChannelServer
  await tcp.connected()
  const payload = { data: [123, 125], format: 'Json' as const }
  tcp.send({ op: 'routed_module_message', source_module_id: 'other', original_request_id: '11111111-1111-4111-8111-111111111111', payload })
  // Without a handler of the user's, fastify.pywatt.modules takes it: `{}` names no endpoint.
  await until(() => tcp.received.some((e) => e.content.op === 'route_to_module' && e.content.request_id === '11111111-1111-4111-8111-111111111111'))
  const got: ModuleMessageDelivery[] = []
  const off = app.pywatt.channels.onModuleMessage((d) => got.push(d))
  tcp.send({ op: 'routed_module_message', source_module_id: 'other', original_request_id: '22222222-2222-4222-8222-222222222222', payload })
  tcp.send({ op: 'routed_module_response', source_module_id: 'other', request_id: '33333333-3333-4333-8333-333333333333', payload })
  await until(() => got.length === 2)
  t.same(got.map((d) => [d.op, d.channel]), [['routed_module_message', 'tcp'], ['routed_module_response', 'tcp']])
  t.equal(got[0]?.op === 'routed_module_message' ? got[0].message.original_request_id : null, '22222222-2222-4222-8222-222222222222')
  off()
  off()
  tcp.send({ op: 'secret', name: 'X', value: 'from-the-wrong-channel' })
  tcp.send({ op: 'heartbeat' })
  await until(() => tcp.received.some((e) => e.content.op === 'heartbeat_ack'))
  t.throws(() => app.pywatt.secrets.get('X'), { code: 'FST_PYWATT_SECRET_NOT_FOUND' }, 'a secret on a channel is not taken')
  t.ok(log.entries().some((e) => e.msg === 'ignored a message that belongs on stdio' && e.op === 'secret'))
})

t.test('http_request on a channel without fastify-pywatt/ipc-http is reported as unconsumed', async (t) => {
  const { orch, app, log, servers } = await setup(t)
  await app.register(pywatt, { io: orch.io })
  const tcp = servers.tcp as ChannelServer
  await tcp.connected()
  tcp.send({ op: 'http_request', request_id: 'x', method: 'GET', uri: '/', headers: {} })
  await new Promise((resolve) => setTimeout(resolve, 50))
  await app.ready()
  t.ok(log.entries().some((e) => e.msg === 'no consumer for this op on the socket channels: message dropped' && e.op === 'http_request'))
})

t.test('ipc-http on a channel: replies come back enveloped on it; bad requests with a readable id get 400 there', async (t) => {
  const { orch, app, servers } = await setup(t, { ipc: true })
  await app.register(pywatt, { io: orch.io })
  await app.register(ipcHttp)
  app.get('/x', async () => ({ ok: true }))
  await app.ready()
  const ipc = servers.ipc as ChannelServer
  await ipc.connected()
  const res = await ipc.request({ method: 'GET', uri: '/x', headers: {} })
  t.equal(res.status_code, 200)
  t.same(JSON.parse(Buffer.from(res.body ?? []).toString()), { ok: true })
  ipc.sendRaw(encodeFrame('{"op":"http_request","request_id":"bad-1","method":7}'))
  await until(() => ipc.received.some((e) => e.content.op === 'http_response' && e.content.request_id === 'bad-1'))
  const bad = ipc.received.find((e) => e.content.op === 'http_response' && e.content.request_id === 'bad-1')?.content as { status_code: number }
  t.equal(bad.status_code, 400)
  t.equal(orch.lines.filter((l) => l.content !== undefined).length, 0, 'nothing on stdout')
})

t.test('ipc-http on a channel: the same request timeout and queue cap as on stdio', async (t) => {
  const { orch, app, servers } = await setup(t)
  await app.register(pywatt, { io: orch.io })
  await app.register(ipcHttp, { concurrency: 1, maxQueued: 0, requestTimeout: 80 })
  app.get('/hang', async (req) => await new Promise((resolve) => req.signal.addEventListener('abort', () => resolve({}))))
  await app.ready()
  const tcp = servers.tcp as ChannelServer
  await tcp.connected()
  const hung = tcp.request({ method: 'GET', uri: '/hang', headers: {} })
  const refused = await tcp.request({ method: 'GET', uri: '/hang', headers: {} })
  t.equal(refused.status_code, 503)
  t.equal(refused.headers?.['retry-after'], '1')
  t.equal((await hung).status_code, 504)
  t.equal(orch.lines.filter((l) => l.content !== undefined).length, 0, 'nothing on stdout')
})

t.test('ipc-http on a channel: a reply that cannot be encoded is answered 500 there, once, and logged with the reason', async (t) => {
  const { orch, app, log, servers } = await setup(t)
  await app.register(pywatt, { io: orch.io })
  await app.register(ipcHttp)
  app.get('/unencodable', (_req, reply) => {
    reply.hijack()
    reply.raw.statusCode = 70_000
    reply.raw.end()
  })
  await app.ready()
  const tcp = servers.tcp as ChannelServer
  await tcp.connected()
  const res = await tcp.request({ method: 'GET', uri: '/unencodable', headers: {}, request_id: 'bad' })
  t.equal(res.status_code, 500)
  t.same(JSON.parse(Buffer.from(res.body ?? []).toString()), { error: 'the module failed to answer this request' })
  t.equal((await tcp.request({ method: 'GET', uri: '/health', headers: {} })).status_code, 200)
  t.equal(tcp.received.filter((e) => e.content.op === 'http_response' && e.content.request_id === 'bad').length, 1, 'exactly one reply')
  t.match(app.pywatt.ipcHttp, { served: 1, failed: 1 })
  t.ok(log.entries().some((e) => e.requestId === 'bad' && /status_code/.test(e.err?.message) && /answering 500/.test(e.msg)), 'logged with the real reason')
  t.notOk(log.entries().some((e) => e.msg === 'a reply could not be sent on any channel'), 'not blamed on the channels')
})

t.test('channels: false ignores the Init channels; a non-required unusable channel is logged, the module starts', async (t) => {
  const { orch, app, servers } = await setup(t)
  await app.register(pywatt, { io: orch.io, channels: false })
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal((servers.tcp as ChannelServer).connections, 0)
  t.same(app.pywatt.channels.health(), { stdio: 'connected' })

  const orch2 = new FakeOrchestrator()
  const log2 = captureLogger()
  const app2 = Fastify({ loggerInstance: log2.logger })
  t.after(() => app2.close())
  orch2.init({ ipc_channel: { socket_path: '/tmp/' + 'y'.repeat(120), required: false } })
  await app2.register(pywatt, { io: orch2.io })
  t.ok(log2.entries().some((e) => e.msg === 'channel not connected: its configuration is unusable' && /limit on linux is 107/.test(e.err.message)))
  t.same(app2.pywatt.channels.health(), { stdio: 'connected' })
})

t.test('a required channel that cannot connect: registration fails, exit code 2, nothing left open', async (t) => {
  const orch = new FakeOrchestrator()
  const log = captureLogger()
  const app = Fastify({ loggerInstance: log.logger })
  t.after(() => app.close())
  const s = new ChannelServer({ kind: 'tcp' })
  await s.listen()
  const address = s.address
  await s.close()
  orch.init({ tcp_channel: { address, tls_enabled: false, required: true } })
  await t.rejects((async () => { await app.register(pywatt, { io: orch.io, channels: { connectTimeout: 200, reconnect: { initialDelay: 10, maxDelay: 20 } } }) })(), { code: 'FST_PYWATT_CHANNEL_REQUIRED' })
  t.same(orch.exits, [EXIT.REFUSED])
  t.ok(log.entries().some((e) => e.level === 60 && e.msg === 'refusing to start: a required channel is unavailable'))
})

t.test('a failed startup secret closes the channels it opened', async (t) => {
  const { orch, app, servers } = await setup(t, { tcp: true, required: true })
  const registering = (async () => { await app.register(pywatt, { io: orch.io, secrets: ['MISSING'], secretTimeout: 300 }) })()
  await (servers.tcp as ChannelServer).connected()
  await t.rejects(registering, { code: 'FST_PYWATT_INIT' })
  await until(() => (servers.tcp as ChannelServer).socket === null)
  t.pass('the channel connection was closed')
})

t.test('close: channels close after the app, without reconnecting', async (t) => {
  const { orch, app, servers } = await setup(t, { tcp: true, required: true })
  await app.register(pywatt, { io: orch.io })
  const tcp = servers.tcp as ChannelServer
  await tcp.connected()
  await app.close()
  t.equal(app.pywatt.channels.get('tcp')?.state, 'closed')
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal(tcp.connections, 1)
  t.equal(tcp.socket, null)
})
