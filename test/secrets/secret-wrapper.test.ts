import t, { type Test } from 'tap'
import { inspect } from 'node:util'
import Fastify from 'fastify'
import pywatt, { Secret } from '../../plugins/index.js'
import ipcHttp from '../../plugins/ipc-http.js'
import { FakeOrchestrator } from '../helpers/fake-orchestrator.js'
import { captureLogger, captureRawLogger } from '../helpers/log-capture.js'

const VALUE = 'sk_live_wrapper_0123456789abcdef'

async function boot (t: Test, opts: { scrubResponses?: boolean } = {}, raw = false) {
  const orch = new FakeOrchestrator()
  const log = raw ? captureRawLogger() : captureLogger()
  const app = Fastify({ loggerInstance: log.logger })
  t.after(() => app.close())
  orch.init({ module_id: 'wrapper' })
  orch.serveSecrets({ API_KEY: VALUE })
  await app.register(pywatt, { io: orch.io, secrets: ['API_KEY'], health: false, ...opts })
  return { orch, log, app }
}

t.test('a Secret prints [REDACTED] everywhere and reveals its value on request', async (t) => {
  const { app } = await boot(t)
  const secret = app.pywatt.secrets.secret('API_KEY')
  t.ok(secret instanceof Secret)
  t.equal(secret.name, 'API_KEY')
  t.equal(secret.reveal(), VALUE)
  t.equal(String(secret), '[REDACTED]')
  t.equal(`Bearer ${secret}`, 'Bearer [REDACTED]', 'template string')
  t.equal('k=' + secret, 'k=[REDACTED]', 'concatenation')
  t.equal(JSON.stringify({ key: secret }), '{"key":"[REDACTED]"}')
  t.equal(inspect({ key: secret }), '{ key: [REDACTED] }', 'util.inspect (console.log)')
  t.notMatch(inspect(secret, { showHidden: true, depth: 5 }), VALUE, 'inspect never shows the value')
  t.notMatch(JSON.stringify(Object.entries(secret)), VALUE, 'no enumerable field holds it')
  t.notMatch(new Error(`cannot call upstream with ${secret}`).message, VALUE, 'an error message')
})

t.test('a Secret in a reply, with and without a response schema, and in a log line', async (t) => {
  // A logger that does not scrub: the wrapper itself must keep the value out.
  const { app, log } = await boot(t, {}, true)
  const secret = app.pywatt.secrets.secret('API_KEY')
  app.get('/plain', async () => ({ key: secret }))
  app.get('/schema', { schema: { response: { 200: { type: 'object', properties: { key: { type: 'string' } } } } } }, async () => ({ key: secret }))
  app.get('/log', async (req) => {
    req.log.info({ key: secret }, `calling with ${secret}`)
    return { ok: true }
  })
  t.same((await app.inject('/plain')).json(), { key: '[REDACTED]' })
  t.same((await app.inject('/schema')).json(), { key: '[REDACTED]' })
  await app.inject('/log')
  const entry = log.entries().find((e) => e.msg === 'calling with [REDACTED]')
  t.ok(entry, 'the message')
  t.equal(entry?.key, '[REDACTED]', 'the field')
  t.notOk(log.lines.some((l) => l.includes(VALUE)), 'no line holds the value')
})

t.test('a Secret follows rotation; a missing one is refused by name', async (t) => {
  const { app } = await boot(t)
  const secret = app.pywatt.secrets.secret('API_KEY')
  app.pywatt.secrets.receive('API_KEY', 'sk_live_rotated_value_99')
  t.equal(secret.reveal(), 'sk_live_rotated_value_99')
  t.throws(() => app.pywatt.secrets.secret('NOPE'), { code: 'FST_PYWATT_SECRET_NOT_FOUND', message: /NOPE/ })
})

t.test('scrubResponses: off by default; on, secret values leave no response body, in any encoding the scrubber knows', async (t) => {
  t.test('off', async (t) => {
    const { app } = await boot(t)
    app.get('/leak', async () => ({ leak: app.pywatt.secrets.get('API_KEY') }))
    t.same((await app.inject('/leak')).json(), { leak: VALUE }, 'the module chose to send it')
  })
  t.test('on', async (t) => {
    const { app, orch } = await boot(t, { scrubResponses: true })
    await app.register(ipcHttp)
    const b64 = Buffer.from(VALUE).toString('base64')
    app.get('/json', async () => ({ leak: app.pywatt.secrets.get('API_KEY'), other: 'kept' }))
    app.get('/text', async (_req, reply) => await reply.type('text/plain').send(`value=${VALUE}; b64=${b64}`))
    app.get('/buffer', async (_req, reply) => await reply.type('application/json').send(Buffer.from(JSON.stringify({ leak: VALUE }))))
    app.get('/binary', async (_req, reply) => await reply.type('application/octet-stream').send(Buffer.from(VALUE)))
    await app.ready()
    const json = await app.inject('/json')
    t.same(json.json(), { leak: '[REDACTED]', other: 'kept' })
    t.equal(json.headers['content-length'], String(Buffer.byteLength(json.body)), 'content-length of the scrubbed body')
    t.equal((await app.inject('/text')).body, 'value=[REDACTED]; b64=[REDACTED]')
    t.same((await app.inject('/buffer')).json(), { leak: '[REDACTED]' })
    t.equal((await app.inject('/binary')).body, VALUE, 'binary bodies are left whole')
    orch.send({ op: 'http_request', request_id: 'ipc', method: 'GET', uri: '/json', headers: {} })
    const line = await orch.waitFor((l) => l.content?.request_id === 'ipc')
    t.same(JSON.parse(Buffer.from(line.content.body as number[]).toString()), { leak: '[REDACTED]', other: 'kept' }, 'over IPC too')
  })
})
