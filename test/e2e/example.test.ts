import t from 'tap'
import { EXIT } from '../../lib/lifecycle/exit-codes.js'
import { EXAMPLE, startModule } from '../helpers/modules.js'

t.test('the example module: handshake, secrets, announce, HTTP, heartbeat, rotation, shutdown', async (t) => {
  const { dev, stderr } = await startModule(t, EXAMPLE, { moduleId: 'example' })
  const endpoints = await dev.announced()
  t.same(endpoints, [
    { path: '/api/echo', methods: ['POST'] },
    { path: '/api/items', methods: ['GET', 'POST'] },
    { path: '/api/items/:id', methods: ['GET'] },
    { path: '/api/items/:id/stock', methods: ['GET'] },
    { path: '/api/me', methods: ['GET'], auth: 'jwt' },
    { path: '/health', methods: ['GET'] },
    { path: '/hello', methods: ['GET'] },
    { path: '/metrics', methods: ['GET'] },
    { path: '/ready', methods: ['GET'] }
  ])
  t.equal(dev.announcedListen, dev.listen, 'announce echoes init.listen')
  const getSecrets = dev.messages.filter((m) => m.op === 'get_secret')
  t.same(getSecrets, [{ op: 'get_secret', name: 'API_KEY' }, { op: 'get_secret', name: 'JWT_SECRET' }])
  t.ok(dev.messages.indexOf(getSecrets[0]) < dev.messages.findIndex((m) => m.op === 'announce'), 'secrets before announce')

  const base = `http://${dev.listen}`
  const hello = await (await fetch(`${base}/hello`)).json()
  t.same(hello, { hello: 'world', module: 'example', keyLength: 'first-api-key-value'.length, rotations: 0 })
  const created = await fetch(`${base}/api/items`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'second' }) })
  t.equal(created.status, 201)
  t.same(await (await fetch(`${base}/api/items/2`)).json(), { id: 2, name: 'second' })
  t.equal((await fetch(`${base}/api/items/99`)).status, 404)
  t.equal((await fetch(`${base}/api/items`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status, 400)

  const scrape = await fetch(`${base}/metrics`)
  t.equal(scrape.status, 200)
  t.match(await scrape.text(), /^http_requests_total\{method="GET",route="\/api\/items\/:id",status_code="404",transport="http"\} 1$/m, 'the example exposes its metrics')

  for (let i = 0; i < 3; i++) dev.heartbeat()
  await dev.waitFor(() => dev.heartbeats.acked === 3)
  t.equal(dev.heartbeats.acked, 3)

  const ack = await dev.rotate('API_KEY', 'the-rotated-key')
  t.equal(ack.status, 'success')
  await dev.waitFor((m) => m.op === 'get_secret' && dev.messages.filter((x) => x.op === 'get_secret').length === 3)
  let after: { keyLength: number, rotations: number } = { keyLength: 0, rotations: 0 }
  for (let i = 0; i < 100 && after.rotations === 0; i++) {
    after = await (await fetch(`${base}/hello`)).json() as typeof after
    if (after.rotations === 0) await new Promise((resolve) => setTimeout(resolve, 20))
  }
  t.equal(after.keyLength, 'the-rotated-key'.length)
  t.equal(after.rotations, 1)

  const exit = await dev.shutdown()
  t.same(exit, { code: EXIT.OK, signal: null })
  t.same(dev.garbage, [], 'nothing but protocol lines on stdout')
  for (const line of stderr) t.doesNotThrow(() => JSON.parse(line), 'every stderr line is JSON')
  t.ok(stderr.some((l) => l.includes('stopping the module')))
})

t.test('stdin EOF stops the example cleanly', async (t) => {
  const { dev } = await startModule(t, EXAMPLE)
  await dev.announced()
  dev.closeStdin()
  t.same(await dev.waitForExit(15_000), { code: EXIT.OK, signal: null })
})

t.test('a bad Init line: exit 2, one clear stderr line, nothing on stdout', async (t) => {
  const { dev, stderr } = await startModule(t, EXAMPLE, { initLine: '{"orchestrator_api":"x","module_id":"m","listen":"127.0.0.1:1"}' })
  t.same(await dev.waitForExit(15_000), { code: EXIT.REFUSED, signal: null })
  t.equal(dev.stdoutBytes, 0)
  const fatal = stderr.map((l) => JSON.parse(l) as { level: number, msg: string, err?: { message: string } }).filter((e) => e.level === 60)
  t.equal(fatal.length, 1)
  t.match(fatal[0].err?.message, /env/)
})
