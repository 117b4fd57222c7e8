import t, { type Test } from 'tap'
import Fastify from 'fastify'
import pywatt, { mergeEndpoints } from '../../plugins/index.js'
import { decodeModuleMessage } from '../../lib/protocol/index.js'
import routeDiscovery, { announcePath } from '../../plugins/route-discovery.js'
import jwt from '../../plugins/jwt.js'
import { FakeOrchestrator } from '../helpers/fake-orchestrator.js'
import { captureLogger } from '../helpers/log-capture.js'

async function boot (t: Test, probes: false | undefined = undefined) {
  const orch = new FakeOrchestrator()
  const log = captureLogger()
  const app = Fastify({ loggerInstance: log.logger })
  t.after(() => app.close())
  orch.init()
  await app.register(pywatt, { io: orch.io, ...(probes === false ? { health: false as const, ready: false as const } : {}) })
  return { orch, log, app }
}

t.test('announces exactly what Fastify serves, normalised', async (t) => {
  const { app, orch, log } = await boot(t)
  await app.register(routeDiscovery)
  app.get('/b/:id', async () => 'x')
  app.post('/b/:id', async () => 'x')
  app.route({ method: ['put', 'DELETE'], url: '/b/:id', handler: async () => 'x' })
  app.head('/declared-head', async () => 'x')
  app.route({ method: ['GET', 'HEAD'], url: '/both', handler: async () => 'x' })
  app.get('/files/*', async () => 'x')
  app.get('/num/:n(^\\d+)', async () => 'x')
  app.get('/hidden', { config: { pywatt: { announce: false } } }, async () => 'x')
  app.get('/swagger-hidden', { schema: { hide: true } as never }, async () => 'x')
  app.get('/secure', { config: { pywatt: { auth: 'jwt' } } }, async () => 'x')
  await app.register(async (child) => {
    child.get('/', async () => 'x')
    child.get('/status', async () => 'x')
  }, { prefix: '/v1' })
  await app.ready()
  t.same(app.pywatt.endpoints(), [
    { path: '/b/:id', methods: ['DELETE', 'GET', 'POST', 'PUT'] },
    { path: '/both', methods: ['GET', 'HEAD'] },
    { path: '/declared-head', methods: ['HEAD'] },
    { path: '/files/*', methods: ['GET'] },
    { path: '/health', methods: ['GET'] },
    { path: '/num/:n', methods: ['GET'] },
    { path: '/ready', methods: ['GET'] },
    { path: '/secure', methods: ['GET'], auth: 'jwt' },
    { path: '/v1', methods: ['GET'] },
    { path: '/v1/status', methods: ['GET'] }
  ])
  await app.pywatt.listen()
  const announce = await orch.waitFor((l) => l.op === 'announce')
  t.same(announce.endpoints, app.pywatt.endpoints())
  t.notOk(log.entries().some((e) => /declared before/.test(e.msg)), 'no warning when registered first')
})

t.test('a path whose methods differ in auth: one entry per auth, the public methods not announced as protected', async (t) => {
  const { app, orch } = await boot(t, false)
  await app.register(routeDiscovery)
  app.delete('/notes/:id', { config: { pywatt: { auth: 'jwt' } } }, async () => 'x')
  app.get('/notes/:id', async () => 'x')
  app.put('/notes/:id', { config: { pywatt: { auth: 'jwt' } } }, async () => 'x')
  app.get('/notes', async () => 'x')
  await app.pywatt.listen()
  const expected = [
    { path: '/notes', methods: ['GET'] },
    { path: '/notes/:id', methods: ['GET'] },
    { path: '/notes/:id', methods: ['DELETE', 'PUT'], auth: 'jwt' }
  ]
  t.same(app.pywatt.endpoints(), expected)
  const announce = await orch.waitFor((l) => l.op === 'announce')
  t.same(announce.endpoints, expected, 'sent as two entries of one path')
  const raw = orch.raw.find((line) => line.includes('"announce"')) as string
  t.same(decodeModuleMessage(raw), { op: 'announce', listen: announce.listen, endpoints: expected }, 'which the protocol decoder accepts')
})

t.test('mergeEndpoints keeps entries of one path with different auth apart, in an order that does not depend on the input', async (t) => {
  const entries = [
    { path: '/b', methods: ['post'], auth: 'jwt' },
    { path: '/a', methods: ['GET'] },
    { path: '/b', methods: ['get'] },
    { path: '/b', methods: ['DELETE'], auth: 'other' },
    { path: '/b', methods: ['GET', 'put'] },
    { path: '/b', methods: ['PATCH'], auth: 'jwt' }
  ]
  const expected = [
    { path: '/a', methods: ['GET'] },
    { path: '/b', methods: ['GET', 'PUT'] },
    { path: '/b', methods: ['PATCH', 'POST'], auth: 'jwt' },
    { path: '/b', methods: ['DELETE'], auth: 'other' }
  ]
  t.same(mergeEndpoints(entries), expected, 'by path, then no auth first, then by auth; methods upper-case, de-duplicated, sorted')
  t.same(mergeEndpoints([...entries].reverse()), expected, 'reversed input, same output')
})

for (const order of ['discovery, then jwt', 'jwt, then discovery']) {
  t.test(`a route protected by its own authenticate hook is announced with auth jwt (${order})`, async (t) => {
    const { app, orch } = await boot(t, false)
    orch.serveSecrets({ JWT_SECRET: 'the-jwt-secret-0123456789abcdef' })
    const registrations = [async () => { await app.register(routeDiscovery) }, async () => { await app.register(jwt) }]
    for (const register of order.startsWith('jwt') ? registrations.reverse() : registrations) await register()
    const authenticate = app.pywatt.jwt!.authenticate
    app.get('/on-request', { onRequest: authenticate }, async () => 'x')
    app.get('/pre-handler', { preHandler: [async () => {}, authenticate] }, async () => 'x')
    app.get('/pre-validation', { preValidation: [authenticate] }, async () => 'x')
    app.get('/other-hooks', { onRequest: async () => {}, preHandler: [async () => {}] }, async () => 'x')
    app.get('/marked', { config: { pywatt: { auth: 'jwt' } } }, async () => 'x')
    await app.ready()
    t.same(app.pywatt.endpoints(), [
      { path: '/marked', methods: ['GET'], auth: 'jwt' },
      { path: '/on-request', methods: ['GET'], auth: 'jwt' },
      { path: '/other-hooks', methods: ['GET'] },
      { path: '/pre-handler', methods: ['GET'], auth: 'jwt' },
      { path: '/pre-validation', methods: ['GET'], auth: 'jwt' }
    ])
    for (const url of ['/on-request', '/pre-handler', '/pre-validation']) {
      t.equal((await app.inject(url)).statusCode, 401, `${url} is protected indeed`)
    }
  })
}

t.test('routes declared between pywatt and route discovery are announced too', async (t) => {
  const { app, log } = await boot(t)
  app.get('/before-discovery', async () => 'x')
  app.get('/early-but-hidden', { config: { pywatt: { announce: false } } }, async () => 'x')
  await app.register(routeDiscovery)
  app.get('/after', async () => 'x')
  await app.ready()
  t.same(app.pywatt.endpoints().map((e) => e.path), ['/after', '/before-discovery', '/health', '/ready'])
  t.notOk(log.entries().some((e) => /declared before/.test(e.msg)), 'nothing to warn about')
})

t.test('without discovery, endpoints come from the option (plus the probes)', async (t) => {
  const orch = new FakeOrchestrator()
  const app = Fastify()
  t.after(() => app.close())
  orch.init()
  await app.register(pywatt, { io: orch.io, endpoints: [{ path: '/x', methods: ['get'], auth: 'jwt' }], health: { path: '/healthz' }, ready: { path: '/readyz' } })
  app.get('/not-announced', async () => 'x')
  await app.ready()
  t.same(app.pywatt.endpoints(), [{ path: '/healthz', methods: ['GET'] }, { path: '/readyz', methods: ['GET'] }, { path: '/x', methods: ['GET'], auth: 'jwt' }])
  t.equal((await app.inject('/healthz')).statusCode, 200)
  t.equal((await app.inject('/readyz')).statusCode, 200)
})

t.test('discovery needs the root plugin', async (t) => {
  const app = Fastify()
  t.after(() => app.close())
  await t.rejects(async () => { await app.register(routeDiscovery) }, { code: 'FST_ERR_PLUGIN_NOT_PRESENT_IN_INSTANCE' })
})

t.test('announcePath strips route regexes and keeps names and wildcards', async (t) => {
  t.equal(announcePath('/a/:id(^\\d+)/b'), '/a/:id/b')
  t.equal(announcePath('/a/:id(^(a|b)$)'), '/a/:id')
  t.equal(announcePath('/a/:x(\\))/y'), '/a/:x/y')
  t.equal(announcePath('/plain/(not-a-param)'), '/plain/(not-a-param)')
  t.equal(announcePath('/files/*'), '/files/*')
})
