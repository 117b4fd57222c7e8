import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { Type } from '@sinclair/typebox'
import { runModule } from '../../plugins/index.js'
import { freePort } from '../../lib/dev/free-port.js'
import { FakeOrchestrator } from '../helpers/fake-orchestrator.js'

const FIXTURE = fileURLToPath(new URL('../../dist/test/fixtures/run-module.js', import.meta.url))

t.test('defaults: the root plugin, route discovery and HTTP over IPC; listen and announce; the build sees fastify.pywatt', async (t) => {
  const orch = new FakeOrchestrator()
  orch.init({ module_id: 'one-call', listen: `127.0.0.1:${await freePort()}` })
  let sawNamespace = false
  const app = await runModule(async (app) => {
    sawNamespace = app.pywatt.moduleId === 'one-call'
    app.get('/hello', async () => ({ hello: 'world' }))
  }, { pywatt: { io: orch.io }, signals: false })
  t.after(() => app.close())
  t.ok(sawNamespace, 'fastify.pywatt is there when the build runs')
  const announce = await orch.waitFor((l) => l.op === 'announce')
  t.ok((announce.endpoints as Array<{ path: string }>).some((e) => e.path === '/hello'), 'the build\'s route is announced')
  orch.send({ op: 'http_request', request_id: 'r1', method: 'GET', uri: '/hello', headers: {} })
  const reply = await orch.waitFor((l) => l.content?.request_id === 'r1')
  t.equal(reply.content.status_code, 200, 'HTTP over IPC is on')
  t.equal((await app.inject('/metrics')).statusCode, 404, 'metrics are off unless asked for')
  t.equal(app.hasRequestDecorator('jwtVerify'), false, 'jwt is off unless asked for')
})

t.test('sub-plugins by option: jwt protects the build\'s routes, metrics answer, ipc-http can be left out', async (t) => {
  const orch = new FakeOrchestrator()
  orch.serveSecrets({ JWT_SECRET: 'a-jwt-secret-of-32-characters-or-more' })
  orch.init({ module_id: 'options', listen: `127.0.0.1:${await freePort()}` })
  const app = await runModule(async (app) => {
    app.get('/me', { config: { pywatt: { auth: 'jwt' } } }, async (req) => ({ sub: req.user.sub }))
  }, { pywatt: { io: orch.io }, jwt: true, metrics: { defaultMetrics: false }, ipcHttp: false, signals: false })
  t.after(() => app.close())
  t.equal((await app.inject('/me')).statusCode, 401)
  const token = app.pywatt.jwt?.sign({ sub: 'u1' }) ?? ''
  t.same((await app.inject({ url: '/me', headers: { authorization: `Bearer ${token}` } })).json(), { sub: 'u1' })
  t.equal((await app.inject('/metrics')).statusCode, 200)
  t.equal(app.pywatt.ipcHttp, undefined, 'no HTTP over IPC')
})

t.test('a build that throws, or a listener that cannot bind, refuses the start with exit 2', async (t) => {
  const built = new FakeOrchestrator()
  built.init({ module_id: 'fails', listen: `127.0.0.1:${await freePort()}` })
  await t.rejects(runModule(async () => { throw new Error('no routes today') }, { pywatt: { io: built.io }, signals: false }), { message: 'no routes today' })
  t.same(built.exits, [2])

  const taken = createServer()
  taken.listen(0, '127.0.0.1')
  await once(taken, 'listening')
  t.after(() => taken.close())
  const port = (taken.address() as { port: number }).port
  const bound = new FakeOrchestrator()
  bound.init({ module_id: 'taken', listen: `127.0.0.1:${port}` })
  await t.rejects(runModule(async () => {}, { pywatt: { io: bound.io }, signals: false }), { code: 'FST_PYWATT_LISTEN' })
  t.same(bound.exits, [2])
  t.same(bound.lines.filter((l) => l.op === 'announce'), [], 'nothing announced')
})

t.test('a refusal the root plugin or a sub-plugin reported is logged once and exits once; with exitOnStop: false nothing exits', async (t) => {
  const lines: string[] = []
  const logger = { destination: { write: (line: string) => { lines.push(line) } } }
  const fatal = (): string[] => lines.map((l) => JSON.parse(l) as { level: number, msg: string }).filter((l) => l.level === 60).map((l) => l.msg)

  const config = new FakeOrchestrator()
  config.init()
  await t.rejects(runModule(async () => {}, { pywatt: { io: config.io }, config: Type.Object({ rmNeverSet: Type.Integer() }), logger, signals: false }), { code: 'FST_PYWATT_CONFIG' })
  t.same(config.exits, [2], 'the root plugin\'s refusal: one exit')
  t.same(fatal(), ['refusing to start: the configuration is invalid'], 'and one fatal line')

  lines.length = 0
  const jwt = new FakeOrchestrator()
  jwt.init()
  await t.rejects(runModule(async () => {}, { pywatt: { io: jwt.io, secretTimeout: 100 }, jwt: true, logger, signals: false }), { code: 'FST_PYWATT_SECRET_TIMEOUT' })
  t.same(jwt.exits, [2], 'a sub-plugin\'s refusal: one exit')
  t.same(fatal(), ['refusing to start: the jwt key secret is unavailable'])

  lines.length = 0
  const quiet = new FakeOrchestrator()
  quiet.init()
  await t.rejects(runModule(async () => { throw new Error('not today') }, { pywatt: { io: quiet.io, exitOnStop: false }, logger, signals: false }), { message: 'not today' })
  t.same(quiet.exits, [], 'exitOnStop: false: the error is thrown, nothing exits')
  t.same(fatal(), ['refusing to start: the module could not be built'])
})

t.test('a built module in one call: standalone it serves on PORT and stops on SIGTERM with exit 0; a failing build exits 2', async (t) => {
  const port = await freePort()
  const child = spawn(process.execPath, [FIXTURE], { env: { ...process.env, PYWATT_STANDALONE: '1', PORT: String(port), HOST: '127.0.0.1' }, stdio: ['ignore', 'pipe', 'pipe'] })
  t.after(() => child.kill('SIGKILL'))
  let res: Response | undefined
  for (let i = 0; i < 100 && res === undefined; i++) {
    res = await fetch(`http://127.0.0.1:${port}/hello`).catch(async () => { await new Promise((resolve) => setTimeout(resolve, 50)) }) ?? undefined
  }
  t.same(await res?.json(), { hello: 'from runModule', module: 'standalone' })
  child.kill('SIGTERM')
  const [code] = await once(child, 'exit') as [number | null]
  t.equal(code, 0, 'SIGTERM: a clean stop')

  const failing = spawn(process.execPath, [FIXTURE], { env: { ...process.env, PYWATT_STANDALONE: '1', PORT: String(await freePort()), FIXTURE_BUILD_FAILS: '1' }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  failing.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const [failed] = await once(failing, 'exit') as [number | null]
  t.equal(failed, 2)
  t.match(stderr, /refusing to start: the module could not be built/)
  t.match(stderr, /the build failed on purpose/)
})
