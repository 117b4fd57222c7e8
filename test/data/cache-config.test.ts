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

t.test('cluster and sentinel URLs: comma-separated hosts, credentials scrubbed, clear errors', async (t) => {
  const { redisSettings } = await import('../../lib/cache/index.js')
  const pw = 'cl@ster:pw/1'
  t.same(parseCacheUrl(`redis-cluster://u:${encodeURIComponent(pw)}@h1:7001,[::1]:7002,h3`), {
    kind: 'redis', user: 'u', password: pw, cluster: [{ host: 'h1', port: 7001 }, { host: '::1', port: 7002 }, { host: 'h3', port: 6379 }]
  })
  t.equal(secretRegistry.scrub(pw), '[REDACTED]')
  t.equal(secretRegistry.scrub(encodeURIComponent(pw)), '[REDACTED]')
  t.same(parseCacheUrl('rediss-cluster://h1:7001/0'), { kind: 'redis', tls: true, cluster: [{ host: 'h1', port: 7001 }] })
  t.same(parseCacheUrl('redis-sentinel://:m4ster-pw@s1:26379,s2/mymaster/2'), {
    kind: 'redis', password: 'm4ster-pw', db: 2, sentinel: { sentinels: [{ host: 's1', port: 26379 }, { host: 's2', port: 26379 }], name: 'mymaster' }
  })
  t.same(parseCacheUrl('rediss-sentinel://s1/m'), { kind: 'redis', tls: true, sentinel: { sentinels: [{ host: 's1', port: 26379 }], name: 'm' } })
  t.same(redisSettings({ sentinel: { sentinels: [{ host: 's' }], name: 'm', password: 'sentinel-own-pw' }, commandTimeout: 100 }), {
    host: '127.0.0.1',
    port: 6379,
    user: undefined,
    password: undefined,
    db: 0,
    tls: false,
    commandTimeout: 100,
    sentinel: { sentinels: [{ host: 's', port: 26379 }], name: 'm', user: undefined, password: 'sentinel-own-pw' }
  })
  t.equal(secretRegistry.scrub('sentinel-own-pw'), '[REDACTED]')
  t.same(redisSettings({ cluster: [{ host: 'a' }, { host: 'b', port: 7000 }] })?.cluster, [{ host: 'a', port: 6379 }, { host: 'b', port: 7000 }])
  for (const [bad, message] of [
    ['redis-cluster://u:s3cr3t-value@h1,,h2', /host/],
    ['redis-cluster://u:s3cr3t-value@h1/3', /database 0/],
    ['redis-sentinel://u:s3cr3t-value@s1,s2', /master name/],
    ['redis-sentinel://u:s3cr3t-value@s1/m/x', /number/],
    ['redis-cluster://u:s3cr3t-value@[x,h2', /parsed/]
  ] as const) {
    const err = (() => { try { parseCacheUrl(bad) } catch (e) { return e as Error & { code: string } } })()!
    t.equal(err.code, 'FST_PYWATT_CACHE_CONFIG', bad)
    t.match(err.message, message)
    t.notMatch(err.message, 's3cr3t-value')
  }
  t.throws(() => createBackend({ cluster: [{ host: 'a' }], sentinel: { sentinels: [{ host: 'b' }], name: 'm' } }), { code: 'FST_PYWATT_CACHE_CONFIG', message: /not both/ })
  t.throws(() => createBackend({ kind: 'memcached', cluster: [{ host: 'a' }] }), { code: 'FST_PYWATT_CACHE_CONFIG' })
  t.throws(() => createBackend({ cluster: [{ host: 'a' }], db: 1 }), { code: 'FST_PYWATT_CACHE_CONFIG' })
  const sentinel = createBackend({ url: 'redis-sentinel://127.0.0.1:1/mymaster', commandTimeout: 200 })
  t.equal(sentinel.kind, 'redis')
  t.equal((sentinel as unknown as { topology: string }).topology, 'sentinel')
  const options = (sentinel as unknown as { client: { options: Record<string, unknown> } }).client.options
  t.same(options.sentinels, [{ host: '127.0.0.1', port: 1 }])
  t.equal(options.name, 'mymaster')
  await sentinel.close()
})
