import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { Type } from '@sinclair/typebox'
import { EXIT, runModule } from '../../plugins/index.js'
import { freePort } from '../../lib/dev/free-port.js'
import { FakeOrchestrator } from '../helpers/fake-orchestrator.js'

const FIXTURE = fileURLToPath(new URL('../../dist/test/fixtures/config-module.js', import.meta.url))

t.test('runModule({ config }): the build sees the configuration; a bad one refuses the start with exit 2 before the build runs', async (t) => {
  const orch = new FakeOrchestrator()
  orch.serveSecrets({ CFG_RM_KEY: 'run-module-secret-key' })
  orch.init({ module_id: 'configured', listen: `127.0.0.1:${await freePort()}`, env: { GREETING: 'hello' } })
  let seen: unknown
  const app = await runModule(async (app) => {
    seen = { ...app.pywatt.config }
    app.get('/greeting', async () => ({ greeting: app.pywatt.config.greeting }))
  }, { config: Type.Object({ greeting: Type.String(), key: Type.String({ secret: 'CFG_RM_KEY' }) }), pywatt: { io: orch.io }, signals: false })
  t.after(() => app.close())
  t.same(seen, { greeting: 'hello', key: 'run-module-secret-key' })
  t.same((await app.inject('/greeting')).json(), { greeting: 'hello' })

  const refused = new FakeOrchestrator()
  refused.init({ module_id: 'misconfigured', listen: `127.0.0.1:${await freePort()}`, env: { WORKERS: 'many' } })
  let built = false
  await t.rejects(runModule(async () => { built = true }, {
    config: Type.Object({ greeting: Type.String(), workers: Type.Integer() }),
    pywatt: { io: refused.io },
    signals: false
  }), { code: 'FST_PYWATT_CONFIG', message: /2 problems: greeting from init\.env or environment GREETING: not set, expected a string; workers from init\.env WORKERS: invalid, expected an integer/ })
  t.equal(built, false, 'the build does not run')
  t.ok(refused.exits.length > 0 && refused.exits.every((code) => code === EXIT.REFUSED), 'exit 2')
  t.same(refused.ops('announce'), [], 'nothing announced')
})

t.test('a configured module in a child process: standalone from its environment; a bad configuration exits 2 naming each key', async (t) => {
  const port = await freePort()
  const child = spawn(process.execPath, [FIXTURE], {
    env: { ...process.env, PYWATT_STANDALONE: '1', PORT: String(port), HOST: '127.0.0.1', GREETING: 'from the environment', WORKERS: '4' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  t.after(() => child.kill('SIGKILL'))
  let res: Response | undefined
  for (let i = 0; i < 100 && res === undefined; i++) {
    res = await fetch(`http://127.0.0.1:${port}/config`).catch(async () => { await new Promise((resolve) => setTimeout(resolve, 50)) }) ?? undefined
  }
  t.same(await res?.json(), { greeting: 'from the environment', workers: 4 })
  child.kill('SIGTERM')
  await once(child, 'exit')

  const env: NodeJS.ProcessEnv = { ...process.env, PYWATT_STANDALONE: '1', PORT: String(await freePort()), WORKERS: '0' }
  delete env.GREETING
  const failing = spawn(process.execPath, [FIXTURE], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  failing.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const [code] = await once(failing, 'exit') as [number | null]
  t.equal(code, 2)
  const fatal = stderr.split('\n').filter((l) => l.includes('"level":60')).map((l) => JSON.parse(l) as { msg: string, err: { code: string, message: string } })
  t.equal(fatal[0]?.msg, 'refusing to start: the configuration is invalid')
  t.equal(fatal[0]?.err.code, 'FST_PYWATT_CONFIG')
  t.match(fatal[0]?.err.message, /greeting from environment GREETING: not set, expected a string; workers from environment WORKERS: invalid, expected an integer \(Expected integer to be greater or equal to 1\)/)
})
