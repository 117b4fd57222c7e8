import t, { type Test } from 'tap'
import Fastify from 'fastify'
import pywatt from '../../plugins/index.js'
import { FakeOrchestrator } from '../helpers/fake-orchestrator.js'
import { captureLogger } from '../helpers/log-capture.js'

async function setup (t: Test, opts: { errorHandler?: boolean } = {}) {
  const orch = new FakeOrchestrator()
  const log = captureLogger()
  const app = Fastify({ loggerInstance: log.logger })
  t.after(() => app.close())
  orch.init()
  await app.register(pywatt, { io: orch.io, ...opts })
  app.get('/boom', async () => { throw new Error('connect ECONNREFUSED 10.0.0.7:5432 (user admin)') })
  app.get('/unavailable', async () => { throw Object.assign(new Error('pool exhausted at db-7'), { statusCode: 503 }) })
  app.get('/teapot', async (_req, reply) => { reply.code(418); throw new Error('short and stout') })
  app.get('/validated', { schema: { querystring: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } } } }, async () => ({ ok: true }))
  return { app, log }
}

t.test('a thrown error answers 500 with a generic body and the request id; the log has the real error', async (t) => {
  const { app, log } = await setup(t)
  const res = await app.inject('/boom')
  t.equal(res.statusCode, 500)
  const body = res.json()
  t.same(Object.keys(body).sort(), ['error', 'message', 'requestId', 'statusCode'])
  t.match(body, { statusCode: 500, error: 'Internal Server Error', message: `Internal Server Error: see the module log for request ${body.requestId as string}` })
  t.notOk(res.body.includes('ECONNREFUSED'), 'nothing of the error reaches the caller')
  const entry = log.entries().find((e) => e.msg === 'request failed with a server error')
  t.equal(entry?.reqId, body.requestId)
  t.equal(entry?.err?.message, 'connect ECONNREFUSED 10.0.0.7:5432 (user admin)')
})

t.test("an error's own 5xx status is kept, with the generic body", async (t) => {
  const { app } = await setup(t)
  const res = await app.inject('/unavailable')
  t.equal(res.statusCode, 503)
  t.match(res.json(), { statusCode: 503, error: 'Service Unavailable' })
  t.notOk(res.body.includes('db-7'))
})

t.test('client errors keep the answer Fastify gives them', async (t) => {
  const { app } = await setup(t)
  const invalid = await app.inject('/validated?n=x')
  t.equal(invalid.statusCode, 400)
  t.match(invalid.json(), { code: 'FST_ERR_VALIDATION', message: 'querystring/n must be integer' })
  const teapot = await app.inject('/teapot')
  t.equal(teapot.statusCode, 418, 'a code the route set before throwing')
  t.match(teapot.json(), { message: 'short and stout' })
  const missing = await app.inject('/nowhere')
  t.equal(missing.statusCode, 404)
})

t.test('errorHandler: false leaves Fastify\'s default handler', async (t) => {
  const { app } = await setup(t, { errorHandler: false })
  const res = await app.inject('/boom')
  t.equal(res.statusCode, 500)
  t.match(res.json(), { message: 'connect ECONNREFUSED 10.0.0.7:5432 (user admin)' })
})

t.test('an error handler of the app\'s own, in its scope, wins', async (t) => {
  const { app } = await setup(t)
  await app.register(async (scope) => {
    scope.setErrorHandler(async (err, _req, reply) => await reply.code(502).send({ mine: (err as Error).message }))
    scope.get('/scoped', async () => { throw new Error('scoped failure') })
  })
  const res = await app.inject('/scoped')
  t.equal(res.statusCode, 502)
  t.same(res.json(), { mine: 'scoped failure' })
})
