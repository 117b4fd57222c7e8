import t from 'tap'
import { createServer, type AddressInfo } from 'node:net'
import Fastify from 'fastify'
import pywatt, { EXIT } from '../../plugins/index.js'
import { secretRegistry } from '../../lib/logging/registry.js'
import { FakeOrchestrator, until } from '../helpers/fake-orchestrator.js'
import { inProcessModule } from '../helpers/in-process.js'
import { captureLogger } from '../helpers/log-capture.js'

const setup = inProcessModule

t.test('handshake, startup secrets fetched concurrently and correlated by name', async (t) => {
  const { orch, app } = setup(t)
  orch.init({ module_id: 'mod-a', env: { FOO: 'bar' } })
  const registering = (async () => { await app.register(pywatt, { io: orch.io, secrets: ['A', 'B'] }) })()
  await orch.waitFor((l) => l.op === 'get_secret' && l.name === 'B')
  t.same(orch.ops('get_secret').map((l) => l.name), ['A', 'B'], 'both requests are out before any reply')
  orch.send({ op: 'secret', name: 'B', value: 'value-of-b' })
  orch.send({ op: 'secret', name: 'A', value: 'value-of-a' })
  await registering
  t.equal(app.pywatt.moduleId, 'mod-a')
  t.same(app.pywatt.init.env, { FOO: 'bar' })
  t.equal(app.pywatt.standalone, false)
  t.equal(app.pywatt.secrets.get('A'), 'value-of-a')
  t.equal(app.pywatt.secrets.get('B'), 'value-of-b')
  t.equal(app.pywatt.replySource, 'mod-a')
})

t.test('lines after Init in the same chunk are not lost', async (t) => {
  const { orch, app } = setup(t)
  orch.input.write(JSON.stringify({ orchestrator_api: 'x', module_id: 'm', env: {}, listen: '127.0.0.1:0' }) + '\n' +
    '{"op":"secret","name":"EARLY","value":"pushed-before-asked"}\n{"op":"heartbeat"}\n')
  await app.register(pywatt, { io: orch.io, secrets: ['EARLY'] })
  t.equal(app.pywatt.secrets.get('EARLY'), 'pushed-before-asked')
  t.same(orch.ops('get_secret'), [], 'a startup secret pushed before it was asked for needs no request')
  await orch.waitFor((l) => l.op === 'heartbeat_ack')
})

t.test('heartbeat is acked; the ack can be turned off', async (t) => {
  const { orch, app } = setup(t)
  orch.init()
  await app.register(pywatt, { io: orch.io })
  orch.send({ op: 'heartbeat' })
  t.same(await orch.waitFor((l) => l.op === 'heartbeat_ack'), { op: 'heartbeat_ack' })

  const quiet = new FakeOrchestrator()
  const app2 = Fastify()
  t.after(() => app2.close())
  quiet.init()
  await app2.register(pywatt, { io: quiet.io, heartbeatAck: false })
  quiet.send({ op: 'heartbeat' })
  quiet.send({ op: 'shutdown' })
  await until(() => quiet.exits.length === 1)
  t.same(quiet.ops('heartbeat_ack'), [])
})

t.test('rotation: ack success at once, refetch in the background, old value served meanwhile, listener told', async (t) => {
  const { orch, app } = setup(t)
  orch.init()
  orch.send({ op: 'secret', name: 'API_KEY', value: 'old-value-1' })
  await app.register(pywatt, { io: orch.io, secrets: ['API_KEY'] })
  const events: unknown[] = []
  app.pywatt.secrets.onRotate(['API_KEY'], (e) => { events.push(e) })
  orch.send({ op: 'rotated', keys: ['API_KEY', 'NOT_USED'], rotation_id: 'rot-1' })
  const ack = await orch.waitFor((l) => l.op === 'rotation_ack')
  t.same(ack, { op: 'rotation_ack', rotation_id: 'rot-1', status: 'success' })
  const refetch = await orch.waitFor((l) => l.op === 'get_secret')
  t.equal(refetch.name, 'API_KEY', 'the pushed startup value needed no request; the rotation asks again')
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.same(orch.ops('get_secret').map((l) => l.name), ['API_KEY'], 'a key the module never used is not fetched')
  t.equal(app.pywatt.secrets.get('API_KEY'), 'old-value-1', 'the old value is served until the new one arrives')
  t.equal(app.pywatt.secrets.isStale('API_KEY'), true)
  orch.send({ op: 'secret', name: 'API_KEY', value: 'new-value-2', rotation_id: 'rot-1' })
  await until(() => events.length === 1)
  t.same(events, [{ key: 'API_KEY', value: 'new-value-2', rotationId: 'rot-1' }])
  t.equal(app.pywatt.secrets.get('API_KEY'), 'new-value-2')
  t.equal(app.pywatt.secrets.isStale('API_KEY'), false)
})

t.test('unsolicited secret lines update the cache for names the module uses, and are ignored for others', async (t) => {
  const { orch, app, log } = setup(t)
  orch.init()
  orch.serveSecrets({ USED: 'first-used-value' })
  await app.register(pywatt, { io: orch.io })
  t.equal(await app.pywatt.secrets.fetch('USED'), 'first-used-value')
  const size = secretRegistry.size
  for (let i = 0; i < 2000; i++) orch.send({ op: 'secret', name: `X${i}`, value: `unsolicited-value-${i}` })
  orch.send({ op: 'secret', name: 'USED', value: 'pushed-used-value' })
  await until(() => app.pywatt.secrets.peek('USED') === 'pushed-used-value')
  t.equal(app.pywatt.secrets.ignoredUnsolicited, 2000)
  t.same(app.pywatt.secrets.keys(), ['USED'], 'none of the unknown names is cached')
  t.equal(secretRegistry.size, size + 1, 'only the new value of the used name is registered for scrubbing')
  const warned = log.entries().filter((e) => /never asked for/.test(e.msg))
  t.equal(warned.length, 11, 'logged at each doubling, not 2,000 times')
  t.equal(warned[0].secret, 'X0')
  t.notOk(log.lines.some((l) => l.includes('unsolicited-value')), 'values are never logged')
})

t.test('shutdown: drains, closes the app (onClose runs), exits 0', async (t) => {
  const { orch, app } = setup(t)
  orch.init()
  await app.register(pywatt, { io: orch.io })
  let closed = false
  app.addHook('onClose', async () => { closed = true })
  await app.ready()
  orch.send({ op: 'shutdown' })
  await until(() => orch.exits.length === 1)
  t.equal(closed, true)
  t.same(orch.exits, [EXIT.OK])
})

t.test('stdin EOF is a stop too, logged as the orchestrator being gone', async (t) => {
  const { orch, app, log } = setup(t)
  orch.init()
  await app.register(pywatt, { io: orch.io })
  await app.ready()
  orch.input.end()
  await until(() => orch.exits.length === 1)
  t.same(orch.exits, [EXIT.OK])
  t.ok(log.entries().some((e) => /orchestrator is gone/.test(e.msg)))
})

t.test('a drain that outlives the deadline exits 3', async (t) => {
  const { orch, app } = setup(t)
  orch.init()
  await app.register(pywatt, { io: orch.io, drainTimeout: 50 })
  app.addHook('onClose', async () => { await new Promise((resolve) => setTimeout(resolve, 300)) })
  await app.ready()
  orch.send({ op: 'shutdown' })
  await until(() => orch.exits.length === 1)
  t.same(orch.exits, [EXIT.FORCED])
})

t.test('stdout lost (EPIPE) stops the module with exit 4', async (t) => {
  const { orch, app } = setup(t)
  orch.init()
  await app.register(pywatt, { io: orch.io })
  await app.ready()
  orch.output.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }))
  await until(() => orch.exits.length === 1)
  t.same(orch.exits, [EXIT.OUTPUT_LOST])
})

t.test('listen binds init.listen and announces once, after the listener is up', async (t) => {
  const { orch, app } = setup(t)
  orch.init({ listen: '127.0.0.1:0' })
  await app.register(pywatt, { io: orch.io, endpoints: [{ path: '/b', methods: ['post', 'get'] }, { path: '/a', methods: ['GET'] }] })
  const listen = await app.pywatt.listen()
  t.match(listen, /^127\.0\.0\.1:\d+$/)
  t.not(listen, '127.0.0.1:0', 'port 0 is announced as the port actually bound')
  const announce = await orch.waitFor((l) => l.op === 'announce')
  t.same(announce, {
    op: 'announce',
    listen,
    endpoints: [{ path: '/a', methods: ['GET'] }, { path: '/b', methods: ['GET', 'POST'] }, { path: '/health', methods: ['GET'] }, { path: '/ready', methods: ['GET'] }]
  })
  const res = await fetch(`http://${listen}/health`)
  t.equal(res.status, 200)
  t.match(await res.json(), { status: 'OK', module_id: 'test-module' })
})

t.test('listen on a Unix socket path echoes it', async (t) => {
  const { orch, app } = setup(t)
  const path = `/tmp/pywatt-test-${process.pid}-${Date.now()}.sock`
  orch.init({ listen: path })
  await app.register(pywatt, { io: orch.io, health: false, ready: false })
  t.equal(await app.pywatt.listen(), path)
  const announce = await orch.waitFor((l) => l.op === 'announce')
  t.same(announce, { op: 'announce', listen: path, endpoints: [] })
})

t.test('listen on an address already in use: FST_PYWATT_LISTEN naming it, nothing announced', async (t) => {
  const { orch, app } = setup(t)
  const blocker = createServer()
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
  t.after(() => blocker.close())
  const listen = `127.0.0.1:${(blocker.address() as AddressInfo).port}`
  orch.init({ listen })
  await app.register(pywatt, { io: orch.io })
  await t.rejects(app.pywatt.listen(), { code: 'FST_PYWATT_LISTEN', message: new RegExp(listen) })
  t.same(orch.ops('announce'), [])
})

t.test('listen on IPv6 loopback with port 0 announces the bracketed bound address', async (t) => {
  const { orch, app } = setup(t)
  orch.init({ listen: '[::1]:0' })
  await app.register(pywatt, { io: orch.io, health: false })
  const listen = await app.pywatt.listen()
  t.match(listen, /^\[::1\]:\d+$/)
  t.equal((await orch.waitFor((l) => l.op === 'announce')).listen, listen)
})

t.test('app.listen() under an orchestrator: one warning naming app.pywatt.listen(); none with pywatt.listen() or standalone', async (t) => {
  const unannounced = (log: ReturnType<typeof captureLogger>) => log.entries().filter((e) => e.level === 40 && /app\.pywatt\.listen\(\)/.test(e.msg))

  const plain = setup(t)
  plain.orch.init()
  await plain.app.register(pywatt, { io: plain.orch.io })
  await plain.app.listen({ host: '127.0.0.1', port: 0 })
  await new Promise((resolve) => setImmediate(resolve))
  const warnings = unannounced(plain.log)
  t.equal(warnings.length, 1, 'warned once')
  t.match(warnings[0], { listen: '127.0.0.1:0', bound: [{ address: '127.0.0.1' }] })
  t.match(warnings[0].msg, /app\.listen\(\) was called instead of app\.pywatt\.listen\(\)/)
  t.same(plain.orch.ops('announce'), [], 'and indeed nothing was announced')

  const viaPywatt = setup(t)
  viaPywatt.orch.init()
  await viaPywatt.app.register(pywatt, { io: viaPywatt.orch.io })
  await viaPywatt.app.pywatt.listen()
  await viaPywatt.orch.waitFor((l) => l.op === 'announce')
  t.same(unannounced(viaPywatt.log), [], 'no warning when app.pywatt.listen() binds')

  const standalone = setup(t)
  await standalone.app.register(pywatt, { io: standalone.orch.io, standalone: true })
  await standalone.app.listen({ host: '127.0.0.1', port: 0 })
  await new Promise((resolve) => setImmediate(resolve))
  t.same(unannounced(standalone.log), [], 'no warning standalone: there is no orchestrator to tell')
})

t.test('handshake failures reject with FST_PYWATT_INIT and exit 2', async (t) => {
  const cases: Array<[string, (o: FakeOrchestrator) => void, RegExp]> = [
    ['invalid JSON', (o) => o.write('{"orchestrator_api": '), /handshake/],
    ['missing env', (o) => o.send({ orchestrator_api: 'x', module_id: 'm', listen: '127.0.0.1:1' }), /env/],
    ['stdin closed', (o) => o.input.end(), /stdin closed/],
    ['another message first', (o) => o.send({ op: 'heartbeat' }), /orchestrator_api/],
    ['over 1 MiB', (o) => o.input.write('x'.repeat(1024 * 1024 + 10)), /longer than/]
  ]
  for (const [name, act, msg] of cases) {
    const orch = new FakeOrchestrator()
    const app = Fastify()
    act(orch)
    await t.rejects(async () => { await app.register(pywatt, { io: orch.io }) }, { code: 'FST_PYWATT_INIT', message: msg }, name)
    t.same(orch.exits, [EXIT.REFUSED], `${name}: exit 2`)
    t.same(orch.lines, [], `${name}: nothing on stdout`)
  }
})

t.test('no Init within initTimeout', async (t) => {
  const orch = new FakeOrchestrator()
  const app = Fastify()
  await t.rejects(async () => { await app.register(pywatt, { io: orch.io, initTimeout: 50 }) }, { code: 'FST_PYWATT_INIT', message: /no Init line within 50 ms/ })
})

t.test('a startup secret that never comes: FST_PYWATT_INIT naming it, exit 2', async (t) => {
  const orch = new FakeOrchestrator()
  const app = Fastify()
  orch.init()
  await t.rejects(async () => { await app.register(pywatt, { io: orch.io, secrets: ['MISSING'], secretTimeout: 50 }) },
    { code: 'FST_PYWATT_INIT', message: /MISSING/ })
  t.same(orch.exits, [EXIT.REFUSED])
})

t.test('T11 a secret request with no answer times out naming the key; a late answer is cached and reported once', async (t) => {
  const { orch, app, log } = setup(t)
  orch.init()
  await app.register(pywatt, { io: orch.io, secretTimeout: 40 })
  const started = Date.now()
  await t.rejects(app.pywatt.secrets.fetch('SLOW_ONE'), { code: 'FST_PYWATT_SECRET_TIMEOUT', message: /SLOW_ONE.*40 ms/ })
  t.ok(Date.now() - started >= 35, 'not before the timeout')
  t.equal(app.pywatt.secrets.pendingCount, 0, 'nothing left pending')
  orch.send({ op: 'secret', name: 'SLOW_ONE', value: 'late-but-welcome' })
  orch.send({ op: 'secret', name: 'SLOW_ONE', value: 'late-but-welcome' })
  await until(() => app.pywatt.secrets.has('SLOW_ONE'))
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(log.entries().filter((e) => /after its request timed out/.test(e.msg)).length, 1)
  t.equal(await app.pywatt.secrets.fetch('SLOW_ONE'), 'late-but-welcome')
})

t.test('options are validated at registration', async (t) => {
  const app = Fastify()
  await t.rejects(async () => { await app.register(pywatt, { secretTimeout: -1 } as never) }, { code: 'FST_PYWATT_INVALID_OPTIONS', message: /secretTimeout/ })
  const app2 = Fastify()
  await t.rejects(async () => { await app2.register(pywatt, { nope: true } as never) }, { code: 'FST_PYWATT_INVALID_OPTIONS', message: /nope/ })
})

t.test('registering twice in one instance is refused', async (t) => {
  const { orch, app } = setup(t)
  orch.init()
  await app.register(pywatt, { io: orch.io })
  await t.rejects(async () => { await app.register(pywatt, { io: orch.io }) }, { code: 'FST_PYWATT_ALREADY_REGISTERED' })
})

t.test('malformed and unknown lines are logged and skipped; the module keeps answering', async (t) => {
  const { orch, app, log } = setup(t)
  orch.init()
  await app.register(pywatt, { io: orch.io })
  await app.ready()
  orch.write('{"op":"heartbeat"')
  orch.write('')
  orch.write('   ')
  orch.write('{"op":"reboot"}')
  orch.write('{"op":"secret","name":"A","name":"B","value":"dup-secret-value"}')
  orch.write('[{"op":"heartbeat"}]')
  orch.write('{"op":"init","orchestrator_api":"x","module_id":"m2","env":{},"listen":"127.0.0.1:1"}')
  orch.send({ op: 'heartbeat' })
  await orch.waitFor((l) => l.op === 'heartbeat_ack')
  const channel = app.pywatt.channel!
  t.equal(channel.stats.malformed, 4)
  t.equal(channel.stats.empty, 2)
  t.equal(app.pywatt.moduleId, 'test-module', 'a second Init changes nothing')
  const warnings = log.entries().filter((e) => e.msg === 'skipped a malformed protocol line')
  t.equal(warnings.length, 4)
  t.notOk(log.lines.some((l) => l.includes('dup-secret-value')), 'the bad line itself is never logged')
})
