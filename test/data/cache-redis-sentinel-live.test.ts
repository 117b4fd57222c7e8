import t from 'tap'
import { Redis } from 'ioredis'
import { cacheContract } from './cache-contract.js'
import { createCache } from '../../lib/cache/index.js'
import { RedisBackend } from '../../lib/cache/redis.js'
import { requireServer, sleep, unique } from './helpers.js'

// The setup of .ci/redis-sentinel: data servers on 6390-6391 (master and replica, swapped by each
// failover), sentinels on 26390-26392 watching them as "mymaster".
const SENTINELS = [26390, 26391, 26392]
const URL = `redis-sentinel://${SENTINELS.map((p) => `127.0.0.1:${p}`).join(',')}/mymaster`

/** The master's port as the sentinels name it. */
async function masterPort (): Promise<number> {
  const sentinel = new Redis({ port: SENTINELS[0], lazyConnect: true })
  try {
    const [, port] = await sentinel.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'mymaster') as [string, string]
    return Number(port)
  } finally {
    sentinel.disconnect()
  }
}

/** Whether every sentinel knows the master's replica again (a failover right after another one is refused until then). */
async function settled (): Promise<boolean> {
  for (const port of SENTINELS) {
    const sentinel = new Redis({ port, lazyConnect: true })
    try {
      const replicas = await sentinel.call('SENTINEL', 'REPLICAS', 'mymaster') as string[][]
      const ok = replicas.some((r) => r[r.indexOf('flags') + 1] === 'slave' && r[r.indexOf('master-link-status') + 1] === 'ok')
      if (!ok) return false
    } finally {
      sentinel.disconnect()
    }
  }
  return true
}

t.test('redis sentinel', async (t) => {
  if (!await requireServer(t, 'Redis Sentinel', '127.0.0.1', SENTINELS[0])) return
  cacheContract(t, { url: URL, kind: 'redis' }, { ttlQuery: true, clear: true, signedCounters: true, ttlResolution: 100, shared: true })
})

t.test('SENTINEL FAILOVER with commands in flight: every command completes, on the new master after', async (t) => {
  if (!await requireServer(t, 'Redis Sentinel', '127.0.0.1', SENTINELS[0])) return
  const deadline = Date.now() + 15_000
  while (!await settled()) {
    if (Date.now() > deadline) { t.fail('the sentinels do not see an in-sync replica (.ci/redis-sentinel)'); return }
    await sleep(100)
  }
  const before = await masterPort()
  const cache = createCache({ url: URL, namespace: unique('sfailover') })
  t.after(() => cache.close())
  const client = (cache.backend as RedisBackend).client as Redis
  await cache.set('warm', 1)
  t.equal((client as unknown as { stream: { remotePort: number } }).stream.remotePort, before, 'connected to the master the sentinels name')

  const keys = Array.from({ length: 20 }, (_, i) => `k${i}`)
  const run = { stop: false }
  const errors: string[] = []
  let completed = 0
  const worker = async (key: string): Promise<void> => {
    while (!run.stop) {
      try {
        await cache.incr(key)
        await cache.get(key)
        completed++
      } catch (err) {
        errors.push((err as Error).message)
      }
    }
  }
  const workers = keys.map(worker)
  await sleep(200)
  const sentinel = new Redis({ port: SENTINELS[0], lazyConnect: true })
  t.after(() => sentinel.disconnect())
  await sentinel.call('SENTINEL', 'FAILOVER', 'mymaster')
  const switched = Date.now() + 15_000
  while (await masterPort() === before) {
    if (Date.now() > switched) break
    await sleep(50)
  }
  const after = await masterPort()
  t.not(after, before, 'the sentinels name the other server')
  const moved = Date.now() + 10_000
  while ((client as unknown as { stream?: { remotePort?: number } }).stream?.remotePort !== after && Date.now() < moved) await sleep(50)
  const atSwitch = completed
  await sleep(300)
  run.stop = true
  await Promise.all(workers)
  t.same(errors, [], 'no command failed')
  t.ok(completed > atSwitch, 'commands completed after the switch')
  t.equal((client as unknown as { stream: { remotePort: number } }).stream.remotePort, after, 'the client follows the new master')
  t.equal(await cache.incr('after'), 1)
  t.same(await client.call('ROLE').then((r) => (r as string[])[0]), 'master')
})
