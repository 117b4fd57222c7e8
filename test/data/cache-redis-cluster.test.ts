import t from 'tap'
import { cacheContract } from './cache-contract.js'
import { requireServer, unique } from './helpers.js'
import { createCache } from '../../lib/cache/index.js'
import { RedisBackend } from '../../lib/cache/redis.js'
import { groupBySlot, keySlot } from '../../lib/cache/slot.js'

// A local Redis Cluster from .ci/redis-cluster: masters 7001-7003, replicas 7004-7006.
const URL = 'redis-cluster://127.0.0.1:7001,127.0.0.1:7002'

t.test('redis cluster', async (t) => {
  if (!await requireServer(t, 'Redis Cluster', '127.0.0.1', 7001)) return
  cacheContract(t, { url: URL, kind: 'redis' }, { ttlQuery: true, clear: true, signedCounters: true, ttlResolution: 100, shared: true })
})

t.test('redis cluster: slots as the server computes them, multi-key calls over many slots', async (t) => {
  if (!await requireServer(t, 'Redis Cluster', '127.0.0.1', 7001)) return
  const cache = createCache({ url: URL, namespace: unique('slots') })
  t.after(() => cache.close())
  const backend = cache.backend as RedisBackend
  t.equal(backend.topology, 'cluster')
  const { Cluster } = await import('ioredis')
  t.ok(backend.client instanceof Cluster, 'the client is an ioredis Cluster')
  for (const key of ['', 'a', 'user:1000', '{user1000}.following', 'foo{}{bar}', 'foo{{bar}}zap', 'héllo', 'ns:{tag}:x']) {
    t.equal(keySlot(key), await backend.client.call('CLUSTER', 'KEYSLOT', key), `slot of '${key}'`)
  }
  t.same(groupBySlot(['{a}1', 'b', '{a}2']), [[0, 2], [1]])
  const keys = Array.from({ length: 200 }, (_, i) => `k${i}`)
  t.ok(new Set(keys.map((k) => keySlot(k))).size > 100, 'the keys span many slots')
  await cache.setMany(keys.map((k, i) => [k, i] as const))
  const masters = (backend.client as InstanceType<typeof Cluster>).nodes('master')
  t.equal(masters.length, 3)
  const perMaster = await Promise.all(masters.map((m) => m.dbsize()))
  t.ok(perMaster.every((n) => n > 0), 'every master holds some of the keys')
  t.same(await cache.getMany([...keys, 'missing']), [...keys.map((_, i) => i), undefined])
  t.equal(await cache.deleteMany(keys.slice(0, 100)), 100)
  t.equal(await cache.clear(), 100, 'clear scans every master')
  t.same(await cache.getMany(keys), keys.map(() => undefined))
  // A namespace with a hash tag keeps a cache on one slot: multi-key calls are then one command.
  const tagged = createCache({ url: URL, namespace: `{${unique('tag')}}` })
  t.after(() => tagged.close())
  await tagged.setMany([['a', 1], ['b', 2]])
  t.same(await tagged.getMany(['a', 'b']), [1, 2])
})

t.test('redis cluster: explicit options, locks across two clients per slot', async (t) => {
  if (!await requireServer(t, 'Redis Cluster', '127.0.0.1', 7001)) return
  const ns = unique('lockns')
  const a = createCache({ cluster: [{ host: '127.0.0.1', port: 7003 }], namespace: ns })
  const b = createCache({ url: URL, namespace: ns })
  t.after(() => Promise.all([a.close(), b.close()]))
  t.equal(a.kind, 'redis')
  const names = Array.from({ length: 20 }, (_, i) => `job${i}`)
  const tokens = await Promise.all(names.map(async (n) => await Promise.all([a.lock(n, 5000), b.lock(n, 5000)])))
  for (const pair of tokens) t.equal(pair.filter((x) => x !== null).length, 1, 'one holder per lock')
  for (const [i, pair] of tokens.entries()) t.equal(await a.unlock(names[i], (pair[0] ?? pair[1])!), true)
})

t.test('redis cluster down at start: commands fail after commandTimeout, not never', async (t) => {
  // Closed ports: no node ever answers, so every command waits in the client's offline queue.
  const cache = createCache({ url: 'redis-cluster://127.0.0.1:1,127.0.0.1:2', commandTimeout: 200 })
  t.after(() => cache.close())
  await t.rejects(cache.get('a'), { code: 'FST_PYWATT_CACHE_OPERATION', message: /timed out/ })
  await t.rejects(cache.set('a', 1), { code: 'FST_PYWATT_CACHE_OPERATION', message: /timed out/ })
  await t.rejects(cache.getMany(['a', 'b']), { code: 'FST_PYWATT_CACHE_OPERATION' })
  await t.rejects(cache.withLock('job', 1000, async () => {}), { code: 'FST_PYWATT_CACHE_OPERATION' })
  await t.rejects(cache.ping(), { code: 'FST_PYWATT_CACHE_OPERATION' })
})
