import t from 'tap'
import { cacheContract } from './cache-contract.js'
import { requireServer } from './helpers.js'

t.test('memcached', async (t) => {
  if (!await requireServer(t, 'Memcached', '127.0.0.1', 11211)) return
  cacheContract(t, { url: 'memcached://127.0.0.1:11211' }, { ttlQuery: false, clear: false, lock: false, signedCounters: false, ttlResolution: 1000, shared: true })
})
