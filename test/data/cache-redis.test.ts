import t from 'tap'
import { cacheContract } from './cache-contract.js'
import { requireServer } from './helpers.js'

t.test('redis', async (t) => {
  if (!await requireServer(t, 'Redis', '127.0.0.1', 6379)) return
  cacheContract(t, { url: 'redis://127.0.0.1:6379/0' }, { ttlQuery: true, clear: true, signedCounters: true, ttlResolution: 100, shared: true })
})

t.test('redis: a stored value that does not decode fails its get, and the client goes on', async (t) => {
  if (!await requireServer(t, 'Redis', '127.0.0.1', 6379)) return
  const { createCache } = await import('../../lib/cache/cache.js')
  const namespace = `bad-${process.pid}`
  const cache = createCache({ url: 'redis://127.0.0.1:6379/0', namespace })
  t.after(() => cache.close())
  const { Redis } = await import('ioredis')
  const raw = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true })
  t.after(() => raw.disconnect())
  // Tag 2 (JSON) followed by bytes that are not JSON, as a foreign or corrupted writer would leave them.
  await raw.set(`${namespace}:broken`, Buffer.from('\u0002{not json'))
  t.after(() => raw.del(`${namespace}:broken`, `${namespace}:fine`))
  await t.rejects(cache.get('broken'), { code: 'FST_PYWATT_CACHE_OPERATION' })
  await cache.set('fine', 'ok')
  t.equal(await cache.get('fine'), 'ok')
})
