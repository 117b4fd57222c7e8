import t, { type Test } from 'tap'
import Fastify from 'fastify'
import pywatt, { type PyWattOptions } from '../../plugins/index.js'
import { ChannelServer } from '../../lib/dev/channel-server.js'
import { encodeOrchestratorMessage, type ModuleMessage } from '../../lib/protocol/index.js'
import { decodeAnswer, decodeRequest, encodeAnswer, routedAnswer, routedRequest, encodeRequest } from '../../lib/modules/wire.js'
import { FakeOrchestrator, until } from '../helpers/fake-orchestrator.js'
import { captureLogger } from '../helpers/log-capture.js'

type RouteToModule = Extract<ModuleMessage, { op: 'route_to_module' }>

/** A module in this process, its stdio orchestrator, and (with `tcp`) the orchestrator's end of a TCP channel. */
async function setup (t: Test, opts: { tcp?: boolean, options?: Partial<PyWattOptions> } = {}) {
  const orch = new FakeOrchestrator()
  const log = captureLogger()
  const app = Fastify({ loggerInstance: log.logger })
  t.after(() => app.close())
  let tcp: ChannelServer | null = null
  if (opts.tcp === true) {
    tcp = new ChannelServer({ kind: 'tcp' })
    await tcp.listen()
    t.after(() => tcp?.close())
    orch.init({ tcp_channel: { address: tcp.address, tls_enabled: false, required: true } })
  } else {
    orch.init()
  }
  await app.register(pywatt, { io: orch.io, ...opts.options })
  await app.ready()
  return { orch, log, app, tcp }
}

/** The next `route_to_module` the module sends on `tcp`. */
async function nextRequest (tcp: ChannelServer, seen = 0): Promise<RouteToModule> {
  await until(() => tcp.received.filter((e) => e.content.op === 'route_to_module').length > seen)
  return tcp.received.filter((e) => e.content.op === 'route_to_module')[seen]?.content as RouteToModule
}

t.test('the modules option is checked at registration', async (t) => {
  for (const [modules, where] of [
    [{ timeout: 0 }, 'modules.timeout'],
    [{ maxPending: 1.5 }, 'modules.maxPending'],
    [{ stdio: 'yes' }, 'modules.stdio'],
    [{ retries: 3 }, 'modules']
  ] as const) {
    const app = Fastify()
    t.after(() => app.close())
    await t.rejects(async () => { await app.register(pywatt, { io: new FakeOrchestrator().io, modules: modules as never }) }, { code: 'FST_PYWATT_INVALID_OPTIONS', message: new RegExp(where.replace('.', '\\.')) }, JSON.stringify(modules))
  }
})

t.test('standalone, or with no channel and stdio not allowed, a request fails at once with CHANNEL_DOWN', async (t) => {
  const app = Fastify()
  t.after(() => app.close())
  await app.register(pywatt, { standalone: true, io: new FakeOrchestrator().io })
  await t.rejects(app.pywatt.modules.request('b', 'echo', 1), { code: 'FST_PYWATT_MODULE_CHANNEL_DOWN', statusCode: 503, message: /standalone/ })

  const { app: bare } = await setup(t)
  await t.rejects(bare.pywatt.modules.request('b', 'echo', 1), { code: 'FST_PYWATT_MODULE_CHANNEL_DOWN', message: /offered no TCP or Unix-socket channel \(set the option modules\.stdio: true/ })
  await t.rejects(bare.pywatt.modules.fetch('b', '/x'), { code: 'FST_PYWATT_MODULE_CHANNEL_DOWN' })
})

t.test('modules.stdio: true sends on stdio and takes the answer from stdin', async (t) => {
  const { orch, app } = await setup(t, { options: { modules: { stdio: true } } })
  const answer = app.pywatt.modules.request('b', 'echo', { x: 'ü' })
  const line = await orch.waitFor((l) => l.op === 'route_to_module')
  t.match(line, { target_module_id: 'b', target_endpoint: 'echo', payload: { format: 'Json' } })
  const request = decodeRequest(routedRequest('test-module', { ...line, payload: { data: Buffer.from(line.payload.data), format: 'Json' } } as unknown as RouteToModule))
  t.same(request?.value, { x: 'ü' })
  orch.write(encodeOrchestratorMessage(routedAnswer('b', encodeAnswer('test-module', line.request_id, { ok: true, value: 'from b' }))))
  t.equal(await answer, 'from b')
})

t.test('a request waits for a reconnecting channel within its timeout, then goes out on it', async (t) => {
  const { app, tcp } = await setup(t, { tcp: true, options: { channels: { reconnect: { initialDelay: 200 } } } })
  const server = tcp as ChannelServer
  await server.connected()
  server.dropConnection()
  await until(() => app.pywatt.channels.get('tcp')?.state !== 'connected')
  const answer = app.pywatt.modules.request('b', 'echo', 'held', { timeout: 5_000 })
  t.equal(app.pywatt.modules.stats().pending, 1)
  const request = await nextRequest(server)
  t.equal(server.connections, 2, 'sent on the new connection')
  server.send(routedAnswer('b', encodeAnswer('test-module', request.request_id, { ok: true, value: 'after the reconnect' })))
  t.equal(await answer, 'after the reconnect')
  t.equal(app.pywatt.modules.stats().pending, 0)
})

t.test('a request waiting for a channel that gives up fails with CHANNEL_DOWN', async (t) => {
  const { app, tcp } = await setup(t, { tcp: true, options: { channels: { reconnect: { initialDelay: 20, maxAttempts: 1 } } } })
  const server = tcp as ChannelServer
  await server.connected()
  await server.close()
  await until(() => app.pywatt.channels.get('tcp')?.state !== 'connected')
  const waiting = app.pywatt.modules.request('b', 'echo', 1)
  await t.rejects(waiting, { code: 'FST_PYWATT_MODULE_CHANNEL_DOWN', message: /every channel gave up or closed \(tcp: failed\)/ })
})

t.test('maxPending bounds the requests in flight; close rejects them; an aborted signal rejects at once', async (t) => {
  const { app, tcp } = await setup(t, { tcp: true, options: { modules: { maxPending: 2 } } })
  await (tcp as ChannelServer).connected()
  const first = app.pywatt.modules.request('b', 'never', 1)
  const second = app.pywatt.modules.request('b', 'never', 2)
  await t.rejects(app.pywatt.modules.request('b', 'never', 3), { code: 'FST_PYWATT_MODULE_CHANNEL_DOWN', message: /2 requests already wait .*modules\.maxPending/ })
  const reason = new Error('no longer wanted')
  await t.rejects(app.pywatt.modules.request('b', 'never', 4, { signal: AbortSignal.abort(reason) }), reason)
  await t.rejects(app.pywatt.modules.request('b', 'never', 4, { timeout: -1 }), { code: 'FST_PYWATT_INVALID_OPTIONS' })
  const rejected = Promise.all([
    t.rejects(first, { code: 'FST_PYWATT_MODULE_CHANNEL_DOWN', message: /the module is stopping/ }),
    t.rejects(second, { code: 'FST_PYWATT_MODULE_CHANNEL_DOWN' })
  ])
  await app.close()
  await rejected
  await t.rejects(app.pywatt.modules.request('b', 'echo', 5), { code: 'FST_PYWATT_MODULE_CHANNEL_DOWN', message: /the module is stopping/ })
})

t.test('handle() refuses reserved and taken endpoints and non-functions', async (t) => {
  const { app } = await setup(t)
  const { modules } = app.pywatt
  modules.handle('x', async () => 1)
  t.throws(() => modules.handle('x', async () => 2), { code: 'FST_PYWATT_INVALID_OPTIONS', message: /x already has a handler/ })
  t.throws(() => modules.handle('pywatt.http', async () => 2), { code: 'FST_PYWATT_INVALID_OPTIONS', message: /reserved/ })
  t.throws(() => modules.handle('', async () => 2), { code: 'FST_PYWATT_INVALID_OPTIONS' })
  t.throws(() => modules.handle('y', {}, 'nope' as never), { code: 'FST_PYWATT_INVALID_OPTIONS', message: /must be a function/ })
})

t.test('a request that is not JSON is answered invalid_payload; a Rust-style request (no endpoint) goes to the catch-all and gets a bare answer; a user onModuleMessage handler takes messages until removed', async (t) => {
  const { app, tcp, log } = await setup(t, { tcp: true })
  const server = tcp as ChannelServer
  await server.connected()
  server.send({ op: 'routed_module_message', source_module_id: 'other', original_request_id: '11111111-1111-4111-8111-111111111111', payload: { data: [...Buffer.from('{not json')], format: 'Json' } })
  const refusal = await nextRequest(server)
  t.match(refusal, { target_module_id: 'other', target_endpoint: 'pywatt.answer', request_id: '11111111-1111-4111-8111-111111111111' })
  t.match(decodeAnswer(routedAnswer('test-module', refusal))?.outcome, { ok: false, error: { code: 'invalid_payload' } })
  t.ok(log.entries().some((e) => e.msg === 'a module request that cannot be read: answered invalid_payload'))

  const rust = { op: 'routed_module_message' as const, source_module_id: 'rusty', original_request_id: '22222222-2222-4222-8222-222222222222', payload: { data: [...Buffer.from('{"id":"33333333-3333-4333-8333-333333333333","content":{"user_id":42},"metadata":{}}')], format: 'Json' as const } }
  server.send(rust)
  const unserved = await nextRequest(server, 1)
  t.match(decodeAnswer(routedAnswer('test-module', unserved))?.outcome, { ok: false, error: { code: 'no_handler', statusCode: 404, message: /names no endpoint/ } }, 'no catch-all yet')
  app.pywatt.modules.handle('*', async (payload, ctx) => ({ got: payload, endpoint: ctx.endpoint }))
  server.send(rust)
  const served = await nextRequest(server, 2)
  t.equal(Buffer.from(served.payload.data).toString('utf8'), '{"got":{"user_id":42},"endpoint":""}', 'the bare value a Rust caller decodes')

  app.pywatt.modules.handle('echo', async (payload) => payload)
  const got: string[] = []
  const off = app.pywatt.channels.onModuleMessage((d) => got.push(d.op))
  const request = encodeRequest('test-module', 'echo', 'hi')
  server.send(routedRequest('other', request))
  await until(() => got.length === 1)
  off()
  server.send(routedRequest('other', encodeRequest('test-module', 'echo', 'again')))
  const answer = await nextRequest(server, 3)
  t.match(answer, { target_module_id: 'other', target_endpoint: 'pywatt.answer' })
  t.same(got, ['routed_module_message'], 'the user handler had the first; modules the next')
})

t.test('an answer the orchestrator passes on unchanged, as a routed_module_message, settles its request', async (t) => {
  const { app, tcp } = await setup(t, { tcp: true })
  const server = tcp as ChannelServer
  await server.connected()
  const answer = app.pywatt.modules.request('b', 'echo', Buffer.from('ü'))
  const request = await nextRequest(server)
  t.same(decodeRequest(routedRequest('test-module', request))?.value, Buffer.from('ü'), 'bytes travel as bytes')
  const passedOn = encodeAnswer('test-module', request.request_id, { ok: true, value: new Uint8Array([1, 2, 255]) })
  server.send(routedRequest('b', passedOn))
  const value = await answer
  t.ok(Buffer.isBuffer(value))
  t.same([...(value as Buffer)], [1, 2, 255])
})

t.test('an answer made while the channel reconnects is held and sent on the new connection; an answer from another module than the target is dropped', async (t) => {
  const { app, tcp, log } = await setup(t, { tcp: true })
  const server = tcp as ChannelServer
  await server.connected()
  let release: () => void = () => {}
  const gate = new Promise<void>((resolve) => { release = resolve })
  app.pywatt.modules.handle('gated', async () => {
    await gate
    return 'held'
  })
  server.send(routedRequest('other', encodeRequest('test-module', 'gated', null)))
  await until(() => app.pywatt.modules.stats().serving === 1)
  server.dropConnection()
  await until(() => app.pywatt.channels.health().tcp !== 'connected')
  release()
  const answer = await nextRequest(server)
  t.equal(server.connections, 2, 'sent on the second connection')
  t.same(decodeAnswer(routedAnswer('test-module', answer))?.outcome, { ok: true, value: 'held' })

  const pending = app.pywatt.modules.request('b', 'echo', 'x', { timeout: 2_000 })
  const request = await nextRequest(server, 1)
  server.send(routedAnswer('intruder', encodeAnswer('test-module', request.request_id, { ok: true, value: 'forged' })))
  await until(() => log.entries().some((e) => e.msg === 'a module answer from another module than the target: dropped'))
  server.send(routedAnswer('b', encodeAnswer('test-module', request.request_id, { ok: true, value: 'real' })))
  t.equal(await pending, 'real')
})
