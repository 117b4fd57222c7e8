import t, { type Test } from 'tap'
import Fastify from 'fastify'
import pywatt from '../../plugins/index.js'
import jwt from '../../plugins/jwt.js'
import { FakeOrchestrator, type Line } from '../helpers/fake-orchestrator.js'
import { captureLogger } from '../helpers/log-capture.js'

type Answer = (line: Line) => Record<string, unknown> | null

/**
 * An orchestrator whose `Jwt` service is played by `answer`: every
 * service_request gets `connection`, every service_operation what `answer`
 * returns (null = no answer).
 */
async function boot (t: Test, answer: Answer, connection: Record<string, unknown> = { success: true, connection_id: 'jwt-conn-1' }) {
  const orch = new FakeOrchestrator()
  const log = captureLogger()
  const app = Fastify({ loggerInstance: log.logger })
  t.after(() => app.close())
  let seen = 0
  orch.output.on('data', () => setImmediate(() => {
    for (; seen < orch.lines.length; seen++) {
      const line = orch.lines[seen]
      if (line.op === 'service_request') orch.send({ op: 'service_response', id: line.id, service_type: 'Jwt', ...connection })
      if (line.op === 'service_operation') {
        const reply = answer(line)
        if (reply !== null) orch.send({ op: 'service_operation_result', ...reply })
      }
    }
  }))
  orch.init()
  await app.register(pywatt, { io: orch.io })
  await app.register(jwt, { validation: 'orchestrator', remoteTimeout: 200 })
  let calls = 0
  app.get('/me', { config: { pywatt: { auth: 'jwt' } } }, async (req) => { calls++; return { user: req.user } })
  await app.ready()
  return { orch, log, app, calls: () => calls }
}

/** A result that echoes the operation, as the Rust SDK needs to match it. */
const echoed = (line: Line, result: unknown, success = true): Record<string, unknown> => ({
  success, result, error: success ? null : 'token rejected by the orchestrator', params: { connection_id: line.connection_id, service_type: line.service_type, operation: line.operation, params: line.params }
})

const auth = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` })

t.test('tokens are validated by the orchestrator; its claims become request.user; one connection serves all', async (t) => {
  const { orch, app, calls } = await boot(t, (line) => echoed(line, { sub: `user-of-${String((line.params as { token: string }).token)}` }))
  const a = await app.inject({ url: '/me', headers: auth('token-a') })
  const b = await app.inject({ url: '/me', headers: auth('token-b') })
  t.equal(a.statusCode, 200)
  t.same(a.json(), { user: { sub: 'user-of-token-a' } })
  t.same(b.json(), { user: { sub: 'user-of-token-b' } })
  t.equal(calls(), 2)
  t.equal(orch.ops('service_request').length, 1, 'one connection')
  t.same(orch.ops('service_request')[0].service_type, 'Jwt')
  t.same(orch.ops('service_operation').map((l) => [l.connection_id, l.operation, l.params]), [['jwt-conn-1', 'validate', { token: 'token-a' }], ['jwt-conn-1', 'validate', { token: 'token-b' }]])
  t.same(orch.ops('get_secret'), [], 'the module fetches no key')
  t.throws(() => app.pywatt.jwt?.sign({ sub: 'x' }), { code: 'FST_PYWATT_JWT_SIGN' })
})

t.test('results are matched by their echo, whatever the order; a result without one is dropped', async (t) => {
  const held: Line[] = []
  const { orch, app, log } = await boot(t, (line) => { held.push(line); return null })
  const first = app.inject({ url: '/me', headers: auth('first') })
  const second = app.inject({ url: '/me', headers: auth('second') })
  while (held.length < 2) await new Promise((resolve) => setTimeout(resolve, 5))
  orch.send({ op: 'service_operation_result', success: true, result: { sub: 'nobody' } })
  orch.send({ op: 'service_operation_result', ...echoed(held[1], { sub: 'second-user' }) })
  orch.send({ op: 'service_operation_result', ...echoed(held[0], { sub: 'first-user' }) })
  t.same((await first).json(), { user: { sub: 'first-user' } })
  t.same((await second).json(), { user: { sub: 'second-user' } })
  t.ok(log.entries().some((e) => /matches no pending operation/.test(e.msg)))
})

t.test('refusals: a failed validation, no answer in time, a non-object answer, no token — all 401, handler never called', async (t) => {
  const { app, log, calls, orch } = await boot(t, (line) => {
    const token = (line.params as { token: string }).token
    if (token === 'refused') return echoed(line, null, false)
    if (token === 'silent') return null
    return echoed(line, 'not-claims')
  })
  for (const token of ['refused', 'silent', 'odd']) {
    const res = await app.inject({ url: '/me', headers: auth(token) })
    t.equal(res.statusCode, 401, token)
    t.equal(res.headers['www-authenticate'], 'Bearer')
  }
  const none = await app.inject({ url: '/me' })
  t.equal(none.statusCode, 401)
  t.equal(calls(), 0)
  t.equal(orch.ops('service_operation').length, 3, 'no token, no question to the orchestrator')
  const reasons = log.entries().filter((e) => e.msg === 'jwt rejected').map((e) => e.reason)
  t.same(reasons, ['FST_PYWATT_JWT_REMOTE', 'FST_PYWATT_JWT_REMOTE', 'FST_PYWATT_JWT_REMOTE', 'FST_PYWATT_JWT_MISSING'])
  t.notOk(log.lines.some((l) => l.includes('refused') && l.includes('token":')), 'the token is not logged')
})

t.test('a refused connection is 401 and is asked again on the next request', async (t) => {
  const { app, orch } = await boot(t, (line) => echoed(line, { sub: 'u' }), { success: false, error: 'no Jwt service here' })
  t.equal((await app.inject({ url: '/me', headers: auth('x') })).statusCode, 401)
  t.equal((await app.inject({ url: '/me', headers: auth('x') })).statusCode, 401)
  t.equal(orch.ops('service_request').length, 2)
})

t.test('orchestrator validation needs an orchestrator', async (t) => {
  const app = Fastify()
  t.after(() => app.close())
  await app.register(pywatt, { standalone: true })
  await t.rejects(async () => { await app.register(jwt, { validation: 'orchestrator' }) }, { code: 'FST_PYWATT_INVALID_OPTIONS', message: /orchestrator/ })
})
