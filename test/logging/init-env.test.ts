import t from 'tap'
import { REDACTED } from '../../lib/logging/scrubber.js'
import { EXAMPLE, startModule } from '../helpers/modules.js'

t.test('a real module: ordinary init.env values stay in its logs, every stderr line is JSON, a credential is scrubbed', async (t) => {
  // The first digits of the clock are in the "time" field of every line.
  const ordinary = {
    SHARDS: String(Date.now()).slice(0, 4),
    WORKER_PORT: '8080',
    FEATURE_FLAG: 'true',
    LEGACY_MODE: 'false',
    UPSTREAM_HOST: '127.0.0.1',
    CACHE_HOST: 'localhost',
    STORAGE_PATH: '/var/lib/data',
    VERBOSITY: 'info',
    KEYSPACE: 'orders',
    TOKEN_TTL: '3600'
  }
  const { dev, stderr } = await startModule(t, EXAMPLE, { initEnv: { ...ordinary, DB_PASSWORD: 'hunter22' } })
  await dev.announced()
  const query = new URLSearchParams({ ...ordinary, pw: 'hunter22' }).toString()
  t.equal((await fetch(`http://${dev.listen}/hello?${query}`)).status, 200)
  await dev.shutdown()

  const entries: Array<Record<string, any>> = []
  for (const line of stderr) {
    try {
      entries.push(JSON.parse(line))
    } catch {
      t.fail(`not JSON: ${line}`)
    }
  }
  t.ok(entries.length > 3)
  t.ok(entries.every((e) => typeof e.time === 'number' && typeof e.level === 'number'), 'time and level are numbers on every line')
  const request = entries.find((e) => e.msg === 'incoming request')
  t.equal(request?.req.url, `/hello?${query.replace('hunter22', REDACTED)}`, 'only the credential is replaced')
  t.equal(request?.req.host, dev.listen, '127.0.0.1 is left alone')
  t.notOk(stderr.some((l) => l.includes('hunter22')))
})
