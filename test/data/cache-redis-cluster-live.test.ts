import t from 'tap'
import Fastify from 'fastify'
import { Cluster, Redis } from 'ioredis'
import pywatt from '../../plugins/index.js'
import { FakeOrchestrator, until } from '../helpers/fake-orchestrator.js'
import { captureLogger } from '../helpers/log-capture.js'
import { createCache } from '../../lib/cache/index.js'
import { requireServer, sleep, unique } from './helpers.js'

// The cluster of .ci/redis-cluster: masters and replicas on 7001-7006 (which is which changes with failovers).
const PORTS = [7001, 7002, 7003, 7004, 7005, 7006]

t.test('fastify.redis is the cache\'s Cluster client; a rotated cluster URL reconnects it in place', async (t) => {
  if (!await requireServer(t, 'Redis Cluster', '127.0.0.1', 7001)) return
  const orch = new FakeOrchestrator()
  orch.init()
  orch.send({ op: 'secret', name: 'CACHE_URL', value: 'redis-cluster://127.0.0.1:7001' })
  const log = captureLogger('info')
  const app = Fastify({ loggerInstance: log.logger })
  t.after(() => app.close())
  const namespace = unique('rotcl')
  await app.register(pywatt, { io: orch.io, cache: { urlSecret: 'CACHE_URL', namespace, commandTimeout: 1000 } })
  const redis = (app as unknown as { redis: Cluster }).redis
  t.ok(redis instanceof Cluster, 'fastify.redis is a Cluster')
  t.ok(app.hasPlugin('@fastify/redis'))
  await app.pywatt.cache.set('k', 'v')
  t.equal(await redis.get(`${namespace}:k`), '\u0000v', 'fastify.redis sees the cache\'s keys')

  // Startup nodes that do not answer are refused.
  orch.send({ op: 'rotated', keys: ['CACHE_URL'], rotation_id: 'r0' })
  await until(() => orch.ops('get_secret').filter((x) => x.name === 'CACHE_URL').length === 1)
  orch.send({ op: 'secret', name: 'CACHE_URL', value: 'redis-cluster://127.0.0.1:1', rotation_id: 'r0' })
  await until(() => log.entries().some((e) => /cache URL does not work/.test(e.msg)), 10_000)

  orch.send({ op: 'rotated', keys: ['CACHE_URL'], rotation_id: 'r1' })
  await until(() => orch.ops('get_secret').filter((x) => x.name === 'CACHE_URL').length === 2)
  orch.send({ op: 'secret', name: 'CACHE_URL', value: 'redis-cluster://127.0.0.1:7002,127.0.0.1:7003', rotation_id: 'r1' })
  await until(() => log.entries().some((e) => /reconnected in place/.test(e.msg)), 10_000)
  t.equal((app as unknown as { redis: Cluster }).redis, redis, 'fastify.redis is the same object')
  t.same((redis as unknown as { startupNodes: unknown }).startupNodes, [{ host: '127.0.0.1', port: 7002 }, { host: '127.0.0.1', port: 7003 }])
  t.equal(redis.status, 'ready')
  t.equal(await app.pywatt.cache.get('k'), 'v')
  t.equal(await app.pywatt.cache.clear(), 1)
})

/** Each node's id, port, role and master (from CLUSTER NODES). */
async function topology (): Promise<Array<{ id: string, port: number, master: boolean, of: string }>> {
  const probe = new Redis({ port: PORTS[0], lazyConnect: true })
  try {
    const text = await probe.call('CLUSTER', 'NODES') as string
    return text.trim().split('\n').map((line) => {
      const [id, addr, flags, of] = line.split(' ')
      return { id, port: Number(addr.split(':')[1].split('@')[0]), master: flags.includes('master'), of }
    })
  } finally {
    probe.disconnect()
  }
}

async function failover (port: number): Promise<void> {
  const node = new Redis({ port, lazyConnect: true })
  try {
    await node.call('CLUSTER', 'FAILOVER')
    const deadline = Date.now() + 15_000
    while ((await node.call('ROLE') as [string])[0] !== 'master') {
      if (Date.now() > deadline) throw new Error(`node ${port} did not become a master`)
      await sleep(50)
    }
  } finally {
    node.disconnect()
  }
}

t.test('a master fails over to its replica with commands in flight: every command completes', async (t) => {
  if (!await requireServer(t, 'Redis Cluster', '127.0.0.1', 7001)) return
  const nodes = await topology()
  const masters = nodes.filter((n) => n.master)
  const replica = nodes.find((n) => !n.master && masters.some((m) => m.id === n.of))
  if (masters.length !== 3 || replica === undefined) {
    t.fail(`the cluster needs three masters with replicas (.ci/redis-cluster); found ${masters.length} masters`)
    return
  }
  const oldMaster = masters.find((m) => m.id === replica.of)!
  const cache = createCache({ url: `redis-cluster://127.0.0.1:${PORTS[0]}`, namespace: unique('failover') })
  t.after(() => cache.close())
  // Fail back afterwards, so the layout stays as .ci/redis-cluster made it.
  t.after(async () => { await failover(oldMaster.port).catch(() => {}) })

  const keys = Array.from({ length: 60 }, (_, i) => `k${i}`)
  await cache.setMany(keys.map((k) => [k, 0] as const))
  const run = { stop: false }
  const done = new Map<string, number>()
  const errors: string[] = []
  const worker = async (key: string): Promise<void> => {
    while (!run.stop) {
      try {
        const n = await cache.incr(key)
        done.set(key, n)
        await cache.get(key)
      } catch (err) {
        errors.push((err as Error).message)
      }
    }
  }
  const workers = keys.map(worker)
  await sleep(300)
  const t0 = Date.now()
  await failover(replica.port)
  const took = Date.now() - t0
  await sleep(500)
  run.stop = true
  await Promise.all(workers)
  t.same(errors, [], 'no command failed')
  t.ok(took < 15_000, `failover took ${took} ms`)
  const after = await topology()
  t.ok(after.find((n) => n.id === replica.id)?.master, 'the replica is now a master')
  // Every increment was applied once: the counters read back as the last value each worker saw.
  const values = await cache.getMany(keys)
  t.same(values, keys.map((k) => done.get(k)), 'no increment was lost or applied twice')
  t.ok([...done.values()].every((n) => n > 1), 'every key took commands')
})
