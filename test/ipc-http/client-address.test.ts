import t from 'tap'
import Fastify from 'fastify'
import pywatt from '../../plugins/index.js'
import ipcHttp, { type IpcHttpOptions } from '../../plugins/ipc-http.js'
import { compileTrust, remoteAddressOf } from '../../lib/ipc-http/headers.js'
import { FakeOrchestrator } from '../helpers/fake-orchestrator.js'

const XFF = { 'x-forwarded-for': '6.6.6.6, 198.51.100.4, 10.0.0.2' }

t.test('request.ip walks x-forwarded-for from the right, as Fastify behind a proxy', async (t) => {
  const cases: Array<[IpcHttpOptions['trustProxy'], string]> = [
    // The client wrote 6.6.6.6 itself; a balancer added its peer 198.51.100.4; the orchestrator added 10.0.0.2.
    [1, '10.0.0.2'],
    [2, '198.51.100.4'],
    [3, '6.6.6.6'],
    [99, '6.6.6.6'],
    [true, '6.6.6.6'],
    [false, '127.0.0.1'],
    [0, '127.0.0.1'],
    ['10.0.0.0/8', '198.51.100.4'],
    ['127.0.0.1, 10.0.0.0/8', '198.51.100.4'],
    [['loopback', '10.0.0.2'], '198.51.100.4'],
    [['192.0.2.99'], '10.0.0.2']
  ]
  for (const [trust, ip] of cases) {
    t.equal(remoteAddressOf(XFF, compileTrust(trust ?? 1)), ip, `trustProxy ${JSON.stringify(trust)}`)
  }
})

t.test('without x-forwarded-for, x-real-ip stands for it; without either, the orchestrator', async (t) => {
  const one = compileTrust(1)
  t.equal(remoteAddressOf({ 'x-real-ip': ' 192.0.2.1 ' }, one), '192.0.2.1')
  t.equal(remoteAddressOf({}, one), '127.0.0.1')
  t.equal(remoteAddressOf({ 'x-forwarded-for': ' , ' }, one), '127.0.0.1', 'empty entries are skipped')
  t.equal(remoteAddressOf({ 'x-forwarded-for': ['1.1.1.1', '2.2.2.2'] }, one), '2.2.2.2', 'repeated headers read as one list')
})

t.test('the option reaches request.ip; a prepended entry cannot spoof it by default', async (t) => {
  for (const [opts, ip] of [[{}, '10.0.0.2'], [{ trustProxy: true }, '6.6.6.6'], [{ trustProxy: '10.0.0.0/8' }, '198.51.100.4']] as const) {
    const orch = new FakeOrchestrator()
    const app = Fastify()
    t.after(() => app.close())
    orch.init({ module_id: 'ip' })
    await app.register(pywatt, { io: orch.io, health: false })
    await app.register(ipcHttp, opts)
    app.get('/ip', async (req) => ({ ip: req.ip }))
    await app.ready()
    orch.send({ op: 'http_request', request_id: 'r', method: 'GET', uri: '/ip', headers: XFF })
    const line = await orch.waitFor((l) => l.content?.request_id === 'r')
    t.same(JSON.parse(Buffer.from(line.content.body as number[]).toString()), { ip }, JSON.stringify(opts))
  }
})

t.test('a bad trustProxy is refused by name', async (t) => {
  const orch = new FakeOrchestrator()
  const app = Fastify()
  t.after(() => app.close())
  orch.init({ module_id: 'm' })
  await app.register(pywatt, { io: orch.io, health: false })
  await t.rejects(async () => { await app.register(ipcHttp, { trustProxy: -1 }) }, { code: 'FST_PYWATT_INVALID_OPTIONS', message: /ipc-http trustProxy/ })
})
