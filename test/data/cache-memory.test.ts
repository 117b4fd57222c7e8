import t from 'tap'
import { cacheContract } from './cache-contract.js'
import { createCache } from '../../lib/cache/index.js'

t.test('memory', async (t) => {
  cacheContract(t, { kind: 'memory' }, { ttlQuery: true, clear: true, signedCounters: true, ttlResolution: 100, shared: false })
})

t.test('memory caps: entries and bytes, evictions counted', async (t) => {
  const c = createCache({ url: 'memory:', maxEntries: 3 })
  for (const k of ['a', 'b', 'c', 'd']) await c.set(k, k)
  t.same(await c.getMany(['a', 'b', 'c', 'd']), [undefined, 'b', 'c', 'd'])
  t.equal(c.stats().evictions, 1)
  const small = createCache({ maxBytes: 1000 })
  await small.set('x', Buffer.alloc(400))
  await small.set('y', Buffer.alloc(400))
  await small.set('z', { json: 'x'.repeat(100) })
  t.equal(await small.get('x'), undefined, 'the byte cap evicts the oldest')
  await t.rejects(small.set('huge', 'x'.repeat(1000)), { code: 'FST_PYWATT_CACHE_OPERATION', message: /byte cap/ })
  await small.incr('n', 5)
  await small.set('t', 1, { ttl: 60_000 })
  t.equal(await small.incr('t'), 2)
  const left = await small.ttl('t')
  t.ok(left !== undefined && left > 59_000, 'incr keeps the TTL')
  await small.close()
  await c.close()
})

t.test('memory backend: its reader and its own set count what they did, under the reader\'s prefix', async (t) => {
  const { MemoryBackend } = await import('../../lib/cache/memory.js')
  const backend = new MemoryBackend(10, 1024 * 1024)
  t.after(() => backend.close())
  const counts = { hits: 0, misses: 0, sets: 0 }
  await backend.set('ns:a', 'x', 0, counts)
  await backend.set('ns:b', { n: 1 }, 0)
  await backend.set('a', 'unprefixed', 0)
  const read = backend.reader('ns:', counts)
  t.equal(await read('a'), 'x')
  t.same(await read('b'), { n: 1 })
  t.equal(await read('c'), undefined)
  t.equal(await backend.reader('', counts)('a'), 'unprefixed')
  t.same(counts, { hits: 3, misses: 1, sets: 1 })
})
