import t from 'tap'
import { Cache } from '../../lib/cache/cache.js'
import { ProxiedBackend } from '../../lib/cache/proxied.js'
import { cachePool } from '../../lib/data/proxied.js'
import { cacheContract } from './cache-contract.js'
import { serveProxied } from './proxied-helpers.js'
import { requireServer, unique } from './helpers.js'

const CAPS = { ttlQuery: false, clear: true, signedCounters: true, ttlResolution: 1000, shared: true }

t.test('the cache contract through the dev orchestrator (memory behind it)', async (t) => {
  const served = await serveProxied(t, { module: { db: false, cache: false } })
  cacheContract(t, { kind: 'orchestrator' }, CAPS, (o) => new Cache(new ProxiedBackend(cachePool(served.channel, {}, served.app.log)), o))
})

t.test('fastify.pywatt.cache with via: orchestrator (Redis behind the dev orchestrator)', async (t) => {
  if (!await requireServer(t, 'Redis', '127.0.0.1', 6379)) return
  const served = await serveProxied(t, { services: { cacheUrl: 'redis://127.0.0.1:6379' }, module: { db: false, cache: { via: 'orchestrator', namespace: unique('pwproxied'), pool: { max: 2 } } } })
  t.equal(served.orch.ops('service_request').filter((r) => r.service_type === 'Cache').length, 2, 'pool.max connections, opened at start')
  const cache = served.app.pywatt.cache
  t.equal(cache.kind, 'orchestrator')
  await cache.set('k', { n: 1 }, { ttl: 60_000 })
  t.same(await cache.get('k'), { n: 1 })
  const set = served.orch.ops('service_operation').find((l) => l.operation === 'set')
  t.equal(set?.params.ttl_seconds, 60, 'TTLs travel in seconds')
  t.equal(Buffer.from(set?.params.value, 'base64').toString(), '\u0002{"n":1}', 'values travel as base64 of the codec bytes')
  t.equal(await cache.incr('c', 5), 5)
  t.equal(await cache.incr('c', 5), 10)
  await cache.set('s', 'text')
  await t.rejects(cache.incr('s'), { code: 'FST_PYWATT_CACHE_NOT_INTEGER' }, 'the code named in the orchestrator error is raised')
  await t.rejects(cache.ttl('k'), { code: 'FST_PYWATT_CACHE_UNSUPPORTED' })
  await cache.ping()
  t.equal(await cache.clear(), 3)
})

t.test('a cache operation that gets no result fails with FST_PYWATT_SERVICE; a refused Cache fails the start', async (t) => {
  const served = await serveProxied(t, {
    relay: (m, deliver) => { if (!(m.op === 'service_operation_result' && (m.params as { operation?: string })?.operation === 'get')) deliver() },
    module: { db: false, cache: { via: 'orchestrator', commandTimeout: 200 } }
  })
  await t.rejects(served.app.pywatt.cache.get('x'), { code: 'FST_PYWATT_SERVICE', message: /no service_operation_result for 'get' within 200 ms/ })
  await served.app.pywatt.cache.set('x', 1)
  const refused = await serveProxied(t, { services: { cacheUrl: false }, module: { db: false, cache: { via: 'orchestrator' } } }).catch((e: Error) => e) as Error & { code: string }
  t.equal(refused.code, 'FST_PYWATT_SERVICE')
  t.match(refused.message, /does not serve "Cache"/)
})
