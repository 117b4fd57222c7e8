import t from 'tap'
import { cacheContract } from './cache-contract.js'
import { requireServer } from './helpers.js'

t.test('memcached', async (t) => {
  if (!await requireServer(t, 'Memcached', '127.0.0.1', 11211)) return
  cacheContract(t, { url: 'memcached://127.0.0.1:11211' }, { ttlQuery: false, clear: false, signedCounters: false, ttlResolution: 1000, shared: true })
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

t.test('memcached: commands issued in the same tick leave in one write', async (t) => {
  if (!await requireServer(t, 'Memcached', '127.0.0.1', 11211)) return
  const { MemcachedBackend } = await import('../../lib/cache/memcached.js')
  const backend = new MemcachedBackend({ host: '127.0.0.1', port: 11211, commandTimeout: 2000 })
  t.after(() => backend.close())
  const key = `batch-${process.pid}`
  await backend.set(`${key}:warm`, 'x', 0)
  const socket = (backend.client.servers[0] as unknown as { _socket: import('node:net').Socket })._socket
  const writes: number[] = []
  const write = socket._write.bind(socket)
  const writev = socket._writev!.bind(socket)
  socket._write = (chunk, encoding, cb) => { writes.push(1); write(chunk, encoding, cb) }
  socket._writev = (chunks, cb) => { writes.push(chunks.length); writev(chunks, cb) }

  await Promise.all(Array.from({ length: 50 }, (_, i) => backend.set(`${key}:${i}`, `value ${i}`, 0)))
  t.same(writes, [50], 'fifty sets, one writev')

  writes.length = 0
  const values = await Promise.all(Array.from({ length: 50 }, (_, i) => backend.get(`${key}:${i}`)))
  t.same(values, Array.from({ length: 50 }, (_, i) => `value ${i}`), 'each answer reaches its own command')
  t.same(writes, [50], 'fifty gets, one writev')

  writes.length = 0
  await backend.set(`${key}:0`, 'a', 0)
  await backend.set(`${key}:1`, 'b', 0)
  t.same(writes, [1, 1], 'a command awaited before the next one is not held back')
})
