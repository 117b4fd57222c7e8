import t from 'tap'
import { spawn } from 'node:child_process'
import Fastify from 'fastify'
import pywatt from '../../plugins/index.js'
import { isStandalone, standaloneInit, STANDALONE_DEFAULTS } from '../../lib/runtime/standalone.js'
import { captureLogger } from '../helpers/log-capture.js'
import { EXAMPLE } from '../helpers/modules.js'

t.test('isStandalone: the flag wins, else a TTY on stdin means a person started it', async (t) => {
  t.equal(isStandalone({ PYWATT_STANDALONE: '1' }, false), true)
  t.equal(isStandalone({ PYWATT_STANDALONE: 'TRUE' }, false), true)
  t.equal(isStandalone({ PYWATT_STANDALONE: 'yes' }, false), true)
  t.equal(isStandalone({ PYWATT_STANDALONE: '0' }, true), false)
  t.equal(isStandalone({ PYWATT_STANDALONE: 'false' }, true), false)
  t.equal(isStandalone({}, true), true)
  t.equal(isStandalone({}, false), false)
  t.equal(isStandalone({ PYWATT_STANDALONE: 'maybe' }, false), false)
})

t.test('standaloneInit: documented defaults, HOST/PORT/PYWATT_MODULE_ID honoured', async (t) => {
  t.same(standaloneInit({}), {
    init: { orchestrator_api: '', module_id: STANDALONE_DEFAULTS.moduleId, env: {}, listen: '127.0.0.1:3000', security_level: 'None' },
    bind: { kind: 'tcp', host: '127.0.0.1', port: 3000 }
  })
  const v6 = standaloneInit({ HOST: '::1', PORT: '0', PYWATT_MODULE_ID: 'mine' })
  t.equal(v6.init.listen, '[::1]:0')
  t.equal(v6.init.module_id, 'mine')
  t.same(v6.bind, { kind: 'tcp', host: '::1', port: 0 })
  t.same(standaloneInit({ HOST: 'localhost', PORT: '8081' }).bind, { kind: 'tcp', host: 'localhost', port: 8081 }, 'host names are fine here')
  t.throws(() => standaloneInit({ PORT: 'eighty' }), /PORT/)
  t.throws(() => standaloneInit({ PORT: '70000' }), /PORT/)
})

t.test('in-process: secrets from the environment, missing ones fail clearly, announce is logged', async (t) => {
  process.env.PYWATT_TEST_SECRET = 'from-the-environment'
  t.after(() => { delete process.env.PYWATT_TEST_SECRET })
  const log = captureLogger()
  const app = Fastify({ loggerInstance: log.logger })
  t.after(() => app.close())
  const prevPort = process.env.PORT
  process.env.PORT = '0'
  t.after(() => { if (prevPort === undefined) delete process.env.PORT; else process.env.PORT = prevPort })
  await app.register(pywatt, { standalone: true, secrets: ['PYWATT_TEST_SECRET'] })
  t.equal(app.pywatt.standalone, true)
  t.equal(app.pywatt.channel, null)
  t.equal(app.pywatt.secrets.get('PYWATT_TEST_SECRET'), 'from-the-environment')
  await t.rejects(app.pywatt.secrets.fetch('PYWATT_NOT_SET_ANYWHERE'), { code: 'FST_PYWATT_SECRET_NOT_SET', message: /set PYWATT_NOT_SET_ANYWHERE/ })
  const listen = await app.pywatt.listen()
  t.match(listen, /^127\.0\.0\.1:\d+$/)
  const announce = log.entries().find((e) => /standalone: announce/.test(e.msg))
  t.same(announce?.listen, listen)
  t.same(announce?.endpoints, [{ path: '/health', methods: ['GET'] }, { path: '/ready', methods: ['GET'] }])
  t.notOk(log.lines.some((l) => l.includes('from-the-environment')), 'the env secret is scrubbed from logs too')
})

t.test('in-process: a missing startup secret refuses to start', async (t) => {
  const app = Fastify()
  await t.rejects(async () => { await app.register(pywatt, { standalone: true, secrets: ['PYWATT_DEFINITELY_MISSING'], exitOnStop: false }) },
    { code: 'FST_PYWATT_INIT', message: /PYWATT_DEFINITELY_MISSING/ })
})

t.test('the built example runs standalone with PYWATT_STANDALONE=1', async (t) => {
  const child = spawn(process.execPath, [EXAMPLE], {
    env: { ...process.env, PYWATT_STANDALONE: '1', API_KEY: 'standalone-key', JWT_SECRET: 'standalone-jwt-secret-0123456789', PORT: '0' },
    stdio: ['pipe', 'pipe', 'pipe']
  })
  t.after(() => child.kill('SIGKILL'))
  let stderr = ''
  child.stderr.setEncoding('utf8')
  const listen = await new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk
      const m = /"listen":"([^"]+)".*standalone: announce/.exec(stderr)
      if (m !== null) resolve(m[1])
    })
    child.once('exit', () => reject(new Error('exited: ' + stderr)))
  })
  const hello = await (await fetch(`http://${listen}/hello`)).json() as { keyLength: number, module: string }
  t.equal(hello.keyLength, 'standalone-key'.length)
  t.equal(hello.module, 'standalone')
  child.kill('SIGTERM')
  const code = await new Promise((resolve) => child.once('exit', resolve))
  t.equal(code, 0, 'SIGTERM is a clean stop in standalone mode too')
})
