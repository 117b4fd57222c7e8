import t from 'tap'
import Fastify from 'fastify'
import pywatt from '../../plugins/index.js'
import { secretRegistry } from '../../lib/logging/registry.js'
import { FakeOrchestrator, until } from '../helpers/fake-orchestrator.js'
import { captureLogger } from '../helpers/log-capture.js'

t.test('credential init.env values, URL passwords and the auth token are scrubbed from logs from the start; other init.env values are not', async (t) => {
  const orch = new FakeOrchestrator()
  const log = captureLogger()
  const app = Fastify({ loggerInstance: log.logger })
  t.after(() => app.close())
  orch.init({
    env: { DB_PASSWORD: 'env-carried-password', CACHE_URL: 'redis://:url-carried-pw@127.0.0.1:6379/0', PUBLIC_HOST: 'public-host-value' },
    auth_token: 'orchestrator-auth-token'
  })
  await app.register(pywatt, { io: orch.io })
  t.equal(app.pywatt.init.auth_token, 'orchestrator-auth-token', 'exposed to module code')
  app.log.info('env says env-carried-password and url-carried-pw and token orchestrator-auth-token')
  t.notOk(log.lines.some((l) => l.includes('env-carried-password') || l.includes('url-carried-pw') || l.includes('orchestrator-auth-token')))
  t.equal(secretRegistry.scrub('orchestrator-auth-token'), '[REDACTED]')
  t.equal(secretRegistry.scrub('public-host-value'), 'public-host-value', 'configuration is not a secret')
})

t.test('a rotation whose refetch cannot be requested is acked with error and a message; the old value stays', async (t) => {
  const orch = new FakeOrchestrator()
  const log = captureLogger()
  const app = Fastify({ loggerInstance: log.logger })
  t.after(() => app.close())
  orch.init()
  orch.send({ op: 'secret', name: 'API_KEY', value: 'value-before-rotation' })
  await app.register(pywatt, { io: orch.io, secrets: ['API_KEY'], maxQueuedBytes: 1024 })
  await app.ready()
  // Stop reading the module's stdout so that its queue fills past maxQueuedBytes.
  orch.output.pause()
  for (let i = 0; i < 2000; i++) orch.send({ op: 'heartbeat' })
  await until(() => (app.pywatt.channel?.writer.queuedBytes ?? 0) > 1024)
  orch.send({ op: 'rotated', keys: ['API_KEY'], rotation_id: 'rot-err' })
  await new Promise((resolve) => setTimeout(resolve, 50))
  orch.output.resume()
  const ack = await orch.waitFor((l) => l.op === 'rotation_ack')
  t.equal(ack.status, 'error')
  t.equal(ack.rotation_id, 'rot-err')
  t.match(ack.message, /API_KEY/)
  t.equal(orch.ops('heartbeat_ack').length, 2000, 'acks are essential: none was refused')
  t.same(orch.ops('get_secret'), [], 'the refused request never reached stdout')
  t.equal(app.pywatt.secrets.get('API_KEY'), 'value-before-rotation')
})

t.test('when stdout is gone, acks are dropped with a warning instead of throwing', async (t) => {
  const orch = new FakeOrchestrator()
  const log = captureLogger()
  const app = Fastify({ loggerInstance: log.logger })
  orch.init()
  await app.register(pywatt, { io: orch.io, exitOnStop: false })
  await app.ready()
  // Lines already on their way when stdout closes are still dispatched until the
  // stop stops reading; their acks cannot be written.
  orch.output.once('close', () => orch.send({ op: 'heartbeat' }))
  orch.output.destroy()
  await until(() => log.entries().some((e) => e.msg === 'could not send a protocol message'))
  t.equal(app.pywatt.channel?.writer.closedReason, 'output closed')
  t.same(orch.exits, [], 'exitOnStop: false never exits')
  await app.close()
})

t.test('a stuck partial line is reported once; a handler that throws is logged, not fatal', async (t) => {
  const { StdioChannel, DEFAULT_LIMITS } = await import('../../lib/transport/stdio-channel.js')
  const orch = new FakeOrchestrator()
  const log = captureLogger()
  const channel = new StdioChannel(orch.input, orch.output, { ...DEFAULT_LIMITS, partialLineWarning: 20 }, log.logger)
  const init = channel.readInit()
  orch.init()
  await init
  channel.router.on('heartbeat', () => { throw new Error('consumer bug') })
  orch.input.write('{"op":"heart')
  await until(() => log.entries().some((e) => /incomplete for a while/.test(e.msg)))
  orch.input.write('beat"}\n')
  await until(() => log.entries().some((e) => e.msg === 'a protocol message handler threw'))
  orch.input.write('{"op":"shut')
  orch.input.write('down"}\n')
  t.equal(channel.stats.dispatched, 2)
  channel.stopReading()
  channel.stopReading()
  orch.input.write('{"op":"heartbeat"}\n')
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(channel.stats.dispatched, 2, 'nothing is read after stopReading')
})

t.test('an Init line that is not UTF-8, and a stdin error, end the handshake cleanly', async (t) => {
  const { StdioChannel, DEFAULT_LIMITS } = await import('../../lib/transport/stdio-channel.js')
  const a = new FakeOrchestrator()
  const ca = new StdioChannel(a.input, a.output, DEFAULT_LIMITS, captureLogger().logger)
  const pa = ca.readInit()
  a.input.write(Buffer.from([0x7b, 0xff, 0x7d, 0x0a]))
  await t.rejects(pa, { code: 'FST_PYWATT_INIT', message: /UTF-8/ })

  const b = new FakeOrchestrator()
  const cb = new StdioChannel(b.input, b.output, DEFAULT_LIMITS, captureLogger().logger)
  const pb = cb.readInit()
  b.input.destroy(new Error('read failure'))
  await t.rejects(pb, { code: 'FST_PYWATT_INIT', message: /stdin closed/ })
  t.equal(cb.ended, true)
})
