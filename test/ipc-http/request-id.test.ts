import t, { type Test } from 'tap'
import Fastify, { type FastifyServerOptions } from 'fastify'
import pywatt from '../../plugins/index.js'
import ipcHttp from '../../plugins/ipc-http.js'
import { FakeOrchestrator } from '../helpers/fake-orchestrator.js'
import { captureLogger } from '../helpers/log-capture.js'

async function boot (t: Test, dispatcher: 'lean' | 'inject', options: Omit<FastifyServerOptions, 'logger' | 'loggerInstance'> = {}) {
  const orch = new FakeOrchestrator()
  const log = captureLogger()
  const app = Fastify({ ...options, loggerInstance: log.logger })
  t.after(() => app.close())
  orch.init({ listen: '127.0.0.1:0' })
  await app.register(pywatt, { io: orch.io })
  await app.register(ipcHttp, { dispatcher })
  app.get('/id', async (request) => {
    request.log.info('inside the handler')
    return { id: request.id }
  })
  const base = `http://${await app.pywatt.listen()}`
  return { orch, log, app, base }
}

async function tunnelled (orch: FakeOrchestrator, id: string, headers: Record<string, string> = {}): Promise<string> {
  orch.send({ op: 'http_request', request_id: id, method: 'GET', uri: '/id', headers })
  const line = await orch.waitFor((l) => l.content?.request_id === id)
  return (JSON.parse(Buffer.from(line.content.body as number[]).toString()) as { id: string }).id
}

for (const dispatcher of ['lean', 'inject'] as const) {
  t.test(`${dispatcher}: a tunnelled request's request_id is request.id, in every log line of the request`, async (t) => {
    const { orch, log } = await boot(t, dispatcher)
    t.equal(await tunnelled(orch, 'orch-7f3a'), 'orch-7f3a')
    t.equal(await tunnelled(orch, 'orch-7f3b', { 'x-request-id': 'from-a-header' }), 'orch-7f3b', 'the protocol id wins over a forwarded header')
    const lines = log.entries().filter((e) => e.reqId === 'orch-7f3a')
    t.ok(lines.some((e) => e.msg === 'inside the handler'), 'the handler\'s own log line')
    t.ok(lines.some((e) => e.msg === 'request completed'), 'Fastify\'s request log line')
  })
}

t.test('plain HTTP: a plain x-request-id is honoured, anything else gets the app\'s own id', async (t) => {
  const { base } = await boot(t, 'lean')
  const idOf = async (headers: Record<string, string> = {}): Promise<string> => ((await (await fetch(`${base}/id`, { headers })).json()) as { id: string }).id
  t.equal(await idOf({ 'x-request-id': 'abc-123_4.5:6' }), 'abc-123_4.5:6')
  t.match(await idOf(), /^req-/, 'no header: Fastify\'s id')
  t.match(await idOf({ 'x-request-id': 'has space' }), /^req-/, 'not plain: not taken')
  t.match(await idOf({ 'x-request-id': 'x'.repeat(129) }), /^req-/, 'too long: not taken')
})

t.test('the app\'s own genReqId and requestIdHeader keep working', async (t) => {
  let n = 0
  const custom = await boot(t, 'lean', { genReqId: () => `custom-${++n}` })
  t.equal(((await (await fetch(`${custom.base}/id`)).json()) as { id: string }).id, 'custom-1')
  t.equal(await tunnelled(custom.orch, 'tunnel-1'), 'tunnel-1')

  const header = await boot(t, 'lean', { requestIdHeader: 'x-trace-id' })
  const idOf = async (headers: Record<string, string>): Promise<string> => ((await (await fetch(`${header.base}/id`, { headers })).json()) as { id: string }).id
  t.equal(await idOf({ 'x-trace-id': 'trace-9' }), 'trace-9', 'the app\'s header')
  t.match(await idOf({ 'x-request-id': 'ignored' }), /^req-/, 'x-request-id is not taken when the app names its own header')
  t.equal(await tunnelled(header.orch, 'tunnel-2'), 'tunnel-2')
})
