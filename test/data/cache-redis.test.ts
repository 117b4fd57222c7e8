import t from 'tap'
import { cacheContract } from './cache-contract.js'
import { requireServer } from './helpers.js'

t.test('redis', async (t) => {
  if (!await requireServer(t, 'Redis', '127.0.0.1', 6379)) return
  cacheContract(t, { url: 'redis://127.0.0.1:6379/0' }, { ttlQuery: true, clear: true, lock: true, signedCounters: true, ttlResolution: 100, shared: true })
})
