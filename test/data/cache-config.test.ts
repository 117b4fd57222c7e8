import t from 'tap'
import { secretRegistry } from '../../lib/logging/registry.js'
import { CACHE_DEFAULTS, createBackend, createCache, parseCacheUrl } from '../../lib/cache/index.js'
import { decode, encode } from '../../lib/cache/codec.js'
import { memcachedExpiry } from '../../lib/cache/memcached.js'
import { globEscape } from '../../lib/cache/redis.js'

t.test('cache URLs: WHATWG parsing, credentials scrubbed, errors never echo the URL', async (t) => {
  const pw = 'c@che:pass/wörd-42'
  t.same(parseCacheUrl(`rediss://usr:${encodeURIComponent(pw)}@[::1]:6380/3`), { kind: 'redis', host: '::1', tls: true, port: 6380, user: 'usr', password: pw, db: 3 })
  t.equal(secretRegistry.scrub(pw), '[REDACTED]')
  t.same(parseCacheUrl('memcached://mc'), { kind: 'memcached', host: 'mc' })
  t.same(parseCacheUrl('memory:'), { kind: 'memory' })
  for (const bad of ['redis://u:s3cr3t-value@[x', 'ftp://u:s3cr3t-value@h', 'redis://u:%E0%A4%A@h/s3cr3t-value', 'redis://h/s3cr3t-value']) {
    const err = (() => { try { parseCacheUrl(bad) } catch (e) { return e as Error & { code: string } } })()!
    t.equal(err.code, 'FST_PYWATT_CACHE_CONFIG')
    t.notMatch(err.message, 's3cr3t-value')
  }
  t.throws(() => createBackend({ kind: 'file' as 'memory' }), { code: 'FST_PYWATT_CACHE_CONFIG', message: /file/ })
  t.throws(() => createCache({ defaultTtl: -1 }), { code: 'FST_PYWATT_CACHE_CONFIG' })
  createBackend({ kind: 'memory', password: 'explicit-cache-pw' })
  t.equal(secretRegistry.scrub('explicit-cache-pw'), '[REDACTED]')
  t.equal(CACHE_DEFAULTS.defaultTtl, 0)
})

t.test('codec: tags, plain integers, foreign values', async (t) => {
  t.equal(decode(Buffer.from('hello')), 'hello', 'a value written by another client reads as a string')
  t.equal(decode(Buffer.from('12  ')), 12)
  t.equal(decode(Buffer.from('99999999999999999')), '99999999999999999')
  t.equal(encode(7), '7')
  t.equal(encode('s'), '\u0000s')
  t.throws(() => encode(Symbol('x') as unknown as string), { code: 'FST_PYWATT_CACHE_OPERATION' })
  t.equal(globEscape('a*b?[c]\\'), 'a\\*b\\?\\[c\\]\\\\')
  t.equal(memcachedExpiry(0), 0)
  t.equal(memcachedExpiry(1), 1)
  t.equal(memcachedExpiry(1500), 2)
  t.equal(memcachedExpiry(31 * 24 * 3600 * 1000, 1_000_000_000), 1_000_000 + 31 * 24 * 3600)
})

t.test('an unreachable server fails with FST_PYWATT_CACHE_OPERATION and the cause', async (t) => {
  const r = createCache({ url: 'redis://127.0.0.1:1', commandTimeout: 300 })
  t.after(() => r.close())
  const err = await r.get('x').catch((e: Error) => e) as Error & { code: string, cause: unknown }
  t.equal(err.code, 'FST_PYWATT_CACHE_OPERATION')
  t.ok(err.cause instanceof Error)
  const m = createCache({ url: 'memcached://127.0.0.1:1', commandTimeout: 300 })
  t.after(() => m.close())
  await t.rejects(m.get('x'), { code: 'FST_PYWATT_CACHE_OPERATION' })
})

t.test('backends are built from discrete options with defaults', async (t) => {
  const r = createBackend({ kind: 'redis', commandTimeout: 200 })
  t.equal(r.kind, 'redis')
  await r.close()
  const tls = createBackend({ url: 'rediss://127.0.0.1:1', commandTimeout: 200 })
  await tls.close()
  const m = createBackend({ kind: 'memcached' })
  t.equal(m.kind, 'memcached')
  await m.close()
  const v6 = createBackend({ kind: 'memcached', host: '::1' })
  await v6.close()
})
