import t from 'tap'
import { cacheContract } from './cache-contract.js'
import { requireServer } from './helpers.js'

t.test('memcached', async (t) => {
  if (!await requireServer(t, 'Memcached', '127.0.0.1', 11211)) return
  cacheContract(t, { url: 'memcached://127.0.0.1:11211' }, { ttlQuery: false, clear: false, lock: false, signedCounters: false, ttlResolution: 1000, shared: true })
})

t.test('memcached: a stored value that does not decode fails its get, and the client goes on', async (t) => {
  if (!await requireServer(t, 'Memcached', '127.0.0.1', 11211)) return
  const { createCache } = await import('../../lib/cache/cache.js')
  const cache = createCache({ url: 'memcached://127.0.0.1:11211', namespace: `bad-${process.pid}` })
  t.after(() => cache.close())
  const { default: memjs } = await import('memjs')
  const raw = memjs.Client.create('127.0.0.1:11211', { logger: { log: () => {} } })
  t.after(() => raw.close())
  // Tag 2 (JSON) followed by bytes that are not JSON, as a foreign or corrupted writer would leave them.
  await raw.set(`bad-${process.pid}:broken`, Buffer.from('\u0002{not json'), {})
  await t.rejects(cache.get('broken'), { code: 'FST_PYWATT_CACHE_OPERATION' })
  await cache.set('fine', 'ok')
  t.equal(await cache.get('fine'), 'ok')
})
