import Fastify from 'fastify'
import t from 'tap'
import pywatt, { EXIT } from '../../plugins/index.js'
import jwt from '../../plugins/jwt.js'
import { FakeOrchestrator } from '../helpers/fake-orchestrator.js'
import { captureLogger } from '../helpers/log-capture.js'
import { SECRET } from './helpers.js'

/** The jwt plugin's key secret is missing: the start is refused as for a root startup secret. */

t.test('standalone, the key secret is not in the environment: exit 2, the error names the variable to set', async (t) => {
  const orch = new FakeOrchestrator()
  const log = captureLogger()
  const app = Fastify({ loggerInstance: log.logger })
  t.after(() => app.close())
  await app.register(pywatt, { io: orch.io, standalone: true })
  await t.rejects(async () => { await app.register(jwt, { secret: 'PYWATT_TEST_JWT_KEY_NOT_SET' }) }, {
    code: 'FST_PYWATT_SECRET_NOT_SET',
    message: /set PYWATT_TEST_JWT_KEY_NOT_SET$/
  })
  t.same(orch.exits, [EXIT.REFUSED])
  const fatal = log.entries().filter((e) => e.level === 60)
  t.same(fatal.map((e) => e.msg), ['refusing to start: the jwt key secret is unavailable'])
})

t.test('under an orchestrator that never answers: refused (exit 2) within the pluginTimeout, not by avvio', async (t) => {
  const orch = new FakeOrchestrator()
  const log = captureLogger()
  const app = Fastify({ loggerInstance: log.logger, pluginTimeout: 1_500 })
  t.after(() => app.close())
  orch.init()
  await app.register(pywatt, { io: orch.io })
  const started = Date.now()
  await t.rejects(async () => { await app.register(jwt) }, { code: 'FST_PYWATT_SECRET_TIMEOUT' })
  t.ok(Date.now() - started < 1_500, `refused after ${Date.now() - started} ms`)
  t.same(orch.exits, [EXIT.REFUSED])
})

t.test('a route marked auth: jwt declared before the plugin: listen() fails with FST_PYWATT_JWT_UNPROTECTED itself', async (t) => {
  const orch = new FakeOrchestrator()
  const app = Fastify({ loggerInstance: captureLogger().logger })
  t.after(() => app.close())
  orch.init({ listen: '127.0.0.1:0' })
  await app.register(pywatt, { io: orch.io })
  app.get('/early', { config: { pywatt: { auth: 'jwt' } } }, async () => ({ ok: true }))
  const registering = (async () => { await app.register(jwt) })()
  await orch.waitFor((l) => l.op === 'get_secret')
  orch.send({ op: 'secret', name: 'JWT_SECRET', value: SECRET })
  await registering
  await t.rejects(app.pywatt.listen(), { code: 'FST_PYWATT_JWT_UNPROTECTED', message: /GET \/early/ })
})
