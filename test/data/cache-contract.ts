import type { Test } from 'tap'
import { createCache, type Cache, type CacheOptions } from '../../lib/cache/index.js'
import { sleep, unique } from './helpers.js'

/** What differs per backend, declared rather than hidden. */
export interface Capabilities {
  ttlQuery: boolean
  clear: boolean
  signedCounters: boolean
  /** Smallest TTL the backend honours, in ms. */
  ttlResolution: number
  /** Whether two `createCache` calls share the data (a server). */
  shared: boolean
}

/** The behaviour every cache backend must share; `create` makes a cache of the options (by default, our own backends'). */
export function cacheContract (t: Test, options: CacheOptions, caps: Capabilities, create: (options: CacheOptions) => Cache = createCache): void {
  const open = (extra: CacheOptions = {}): Cache => {
    const cache = create({ ...options, ...extra })
    t.after(() => cache.close())
    return cache
  }
  const fresh = (): Cache => open({ namespace: unique('pwtest') })

  t.test('get, set, has, delete and stats', async (t) => {
    const c = fresh()
    t.equal(await c.get('nope'), undefined)
    await c.set('a', 'x')
    t.equal(await c.get('a'), 'x')
    t.equal(await c.has('a'), true)
    t.equal(await c.has('b'), false)
    t.equal(await c.delete('a'), true)
    t.equal(await c.delete('a'), false)
    t.equal(await c.get('a'), undefined)
    const s = c.stats()
    t.same({ ...s, evictions: undefined }, { hits: 1, misses: 2, sets: 1, deletes: 1, evictions: undefined })
    t.equal(c.kind, options.kind ?? options.url?.split(':')[0].replace('rediss', 'redis') ?? 'memory')
  })

  t.test('strings, Buffers and JSON round-trip exactly', async (t) => {
    const c = fresh()
    const values = [
      '', 'plain', '123', '-7', '\u0000starts with NUL', '\u0001', 'héllo — 日本語 — 🦀',
      Buffer.alloc(0), Buffer.from([0, 1, 2, 0xff, 0x80]), Buffer.from('text as bytes'),
      0, 42, -5, 2 ** 53 + 2, 3.25, true, false, null, [1, 'two', { three: [3] }], { a: { b: 'ü' }, n: null }
    ]
    for (const [i, v] of values.entries()) await c.set(`v${i}`, v)
    for (const [i, v] of values.entries()) {
      const got = await c.get(`v${i}`)
      if (Buffer.isBuffer(v)) {
        t.ok(Buffer.isBuffer(got) && v.equals(got), `buffer ${i}`)
      } else {
        t.same(got, v, `value ${i}`)
        t.equal(typeof got, typeof v)
      }
    }
    const big = Buffer.alloc(1024 * 1024)
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff
    const stored = await c.set('big', big).then(() => true, (err: Error & { code: string }) => {
      // Memcached's default item cap is 1 MiB including overhead: the refusal must be clear.
      t.equal(err.code, 'FST_PYWATT_CACHE_OPERATION')
      t.equal(options.kind ?? 'memcached', 'memcached', 'only memcached may refuse 1 MiB')
      return false
    })
    if (stored) t.ok(big.equals(await c.get('big') as Buffer), '1 MiB value')
    const bigText = 'ü'.repeat(400 * 1024)
    await c.set('bigText', bigText)
    t.equal(await c.get('bigText'), bigText)
    const mutable = Buffer.from('abc')
    await c.set('m', mutable)
    mutable[0] = 0x7a
    t.equal((await c.get<Buffer>('m'))?.toString(), 'abc', 'a stored Buffer is a copy')
    await t.rejects(c.set('bad', undefined as unknown as string), { code: 'FST_PYWATT_CACHE_OPERATION' })
  })

  t.test('a value typed by an interface: set and setMany take it (typecheck), get returns it', async (t) => {
    interface Item { id: number, name: string, tags: string[], note?: string }
    const c = fresh()
    const item: Item = { id: 1, name: 'a', tags: ['x'] }
    await c.set('item', item)
    await c.setMany([['list', [item]]])
    t.same(await c.get<Item>('item'), item)
    t.same(await c.get<Item[]>('list'), [item])
  })

  t.test('TTL: milliseconds, 0 = no expiry, default TTL, expiry', async (t) => {
    const c = fresh()
    const ttl = caps.ttlResolution
    await c.set('short', 'v', { ttl })
    await c.set('forever', 'v', { ttl: 0 })
    if (caps.ttlQuery) {
      const left = await c.ttl('short')
      t.ok(left !== undefined && left > 0 && left <= ttl, `ttl left ${String(left)}`)
      t.equal(await c.ttl('forever'), 0)
      t.equal(await c.ttl('missing'), undefined)
    } else {
      await t.rejects(c.ttl('short'), { code: 'FST_PYWATT_CACHE_UNSUPPORTED' })
    }
    await sleep(ttl * 2 + 100)
    t.equal(await c.get('short'), undefined, 'expired')
    t.equal(await c.has('short'), false)
    t.equal(await c.get('forever'), 'v')
    const d = open({ namespace: unique('pwtest'), defaultTtl: ttl })
    await d.set('x', 1)
    await d.setMany([['y', 2]])
    await d.set('z', 3, { ttl: 0 })
    await sleep(ttl * 2 + 100)
    t.same(await d.getMany(['x', 'y', 'z']), [undefined, undefined, 3])
    await t.rejects(c.set('k', 1, { ttl: -1 }), { code: 'FST_PYWATT_CACHE_CONFIG' })
  })

  t.test('incr and decr', async (t) => {
    const c = fresh()
    t.equal(await c.incr('n'), 1)
    t.equal(await c.incr('n', 10), 11)
    t.equal(await c.decr('n', 4), 7)
    t.equal(await c.get('n'), 7, 'a counter reads as a number')
    await c.set('m', 40)
    t.equal(await c.incr('m', 2), 42, 'a stored integer can be incremented')
    if (caps.signedCounters) {
      t.equal(await c.decr('neg', 3), -3)
    } else {
      t.equal(await c.decr('neg', 3), 0, 'unsigned counters stop at 0')
    }
    await c.set('s', 'text')
    await t.rejects(c.incr('s'), { code: 'FST_PYWATT_CACHE_NOT_INTEGER' })
    await t.rejects(c.incr('n', 1.5), { code: 'FST_PYWATT_CACHE_CONFIG' })
    const counts = await Promise.all(Array.from({ length: 50 }, () => c.incr('race')))
    t.equal(Math.max(...counts), 50, 'increments are atomic')
  })

  t.test('getMany, setMany, deleteMany', async (t) => {
    const c = fresh()
    await c.setMany([['a', 'A'], ['b', Buffer.from('B')]])
    await c.setMany({ c: { n: 1 } })
    const [a, b, missing, cc] = await c.getMany(['a', 'b', 'x', 'c'])
    t.equal(a, 'A')
    t.ok(Buffer.isBuffer(b) && b.toString() === 'B')
    t.equal(missing, undefined)
    t.same(cc, { n: 1 })
    t.same(await c.getMany([]), [])
    t.equal(await c.deleteMany(['a', 'x', 'c']), 2)
    t.equal(await c.deleteMany([]), 0)
    t.same(await c.getMany(['a', 'b']), [undefined, b])
  })

  t.test('clear(namespace)', async (t) => {
    const c = fresh()
    if (!caps.clear) {
      await t.rejects(c.clear('x'), { code: 'FST_PYWATT_CACHE_UNSUPPORTED', message: /memcached.*clear/ })
      return
    }
    await c.setMany([['users:1', 'a'], ['users:2', 'b'], ['users*:3', 'glob'], ['items:1', 'c'], ['usersx', 'd']])
    t.equal(await c.clear('users'), 2)
    t.same(await c.getMany(['users:1', 'users:2', 'users*:3', 'items:1', 'usersx']), [undefined, undefined, 'glob', 'c', 'd'])
    t.equal(await c.clear('users*'), 1, 'glob characters are literal')
    const other = fresh()
    await other.set('keep', 1)
    t.equal(await c.clear(), 2, 'clear() takes only this cache namespace')
    t.equal(await other.get('keep'), 1)
  })

  t.test('lock and unlock, contention between two clients', async (t) => {
    const ns = unique('pwtest')
    const a = open({ namespace: ns })
    const b = caps.shared ? open({ namespace: ns }) : a
    const results = await Promise.all([a.lock('job', 5000), b.lock('job', 5000), a.lock('job', 5000), b.lock('job', 5000)])
    const winners = results.filter((r) => r !== null)
    t.equal(winners.length, 1, 'exactly one client holds the lock')
    const token = winners[0]!
    t.equal(await b.unlock('job', 'not-the-token'), false, 'a wrong token does not release')
    t.equal(await a.lock('job', 5000), null)
    t.equal(await b.unlock('job', token), true)
    t.equal(await b.unlock('job', token), false, 'a second unlock is a no-op')
    const again = await b.lock('job', caps.ttlResolution)
    t.type(again, 'string')
    await sleep(caps.ttlResolution * 2 + 100)
    const after = await a.lock('job', 5000)
    t.type(after, 'string', 'an expired lock can be taken')
    t.equal(await b.unlock('job', again!), false, 'the old holder cannot release the new lock')
    await t.rejects(a.lock('job', 0), { code: 'FST_PYWATT_CACHE_CONFIG' })
  })

  t.test('ping answers', async (t) => {
    await t.resolves(fresh().ping())
  })

  t.test('setNx: stores only when absent, one winner of a race, namespaces apart, expiry honoured', async (t) => {
    const ns = unique('pwtest')
    const a = open({ namespace: ns })
    const b = caps.shared ? open({ namespace: ns }) : a
    t.equal(await a.setNx('k', { v: 1 }), true)
    t.equal(await b.setNx('k', { v: 2 }), false)
    t.same(await a.get('k'), { v: 1 }, 'the first value stays')
    t.equal(await fresh().setNx('k', 'other namespace'), true)
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).setNx('race', i)))
    t.equal(results.filter(Boolean).length, 1, 'exactly one of 20 concurrent setNx stores')
    t.equal(await a.get('race'), results.indexOf(true), 'the stored value is the winner\'s')
    const c = fresh()
    t.equal(await c.setNx('short', 'v', { ttl: caps.ttlResolution }), true)
    t.equal(await c.setNx('short', 'w'), false)
    t.equal(c.stats().sets, 1, 'a stored setNx counts as a set, a refused one does not')
    await sleep(caps.ttlResolution * 2 + 100)
    t.equal(await c.setNx('short', 'w'), true, 'an expired key counts as absent')
    t.equal(await c.get('short'), 'w')
  })

  t.test('getSet: returns the previous value; concurrent getSets form one chain', async (t) => {
    const ns = unique('pwtest')
    const a = open({ namespace: ns })
    const b = caps.shared ? open({ namespace: ns }) : a
    t.equal(await a.getSet('k', 'first'), undefined)
    t.equal(await a.getSet('k', Buffer.from('second')), 'first')
    const second = await a.getSet('k', { third: [3] })
    t.ok(Buffer.isBuffer(second) && second.toString() === 'second')
    t.same(await a.get('k'), { third: [3] })
    t.same({ ...a.stats(), evictions: undefined }, { hits: 3, misses: 1, sets: 3, deletes: 0, evictions: undefined })
    await a.getSet('short', 1, { ttl: caps.ttlResolution })
    if (caps.ttlQuery) {
      const left = await a.ttl('short')
      t.ok(left !== undefined && left > 0 && left <= caps.ttlResolution, 'getSet sets the ttl')
    }
    const olds = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).getSet<number>('chain', i)))
    const last = await a.get<number>('chain')
    // Each write replaced exactly one other: the old values and the last one are every value once.
    t.same([...olds, last].map((v) => v ?? -1).sort((x, y) => x - y), [-1, ...Array.from({ length: 20 }, (_, i) => i)])
  })

  t.test('withLock: two holders never overlap', async (t) => {
    const ns = unique('pwtest')
    const a = open({ namespace: ns })
    const b = caps.shared ? open({ namespace: ns }) : a
    const log: string[] = []
    const holders = Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? a : b).withLock('crit', 10_000, async (signal) => {
      log.push(`in ${i}`)
      await sleep(5)
      log.push(`out ${i}${signal.aborted ? ' aborted' : ''}`)
      return i
    }, { wait: 10_000, retry: 5 }))
    t.same(await Promise.all(holders), [0, 1, 2, 3, 4, 5])
    const pairs = Array.from({ length: 6 }, (_, j) => [log[2 * j], log[2 * j + 1]])
    t.ok(pairs.every(([enter, leave]) => leave === enter.replace('in', 'out')), `each holder leaves before the next enters: ${log.join(', ')}`)
    t.type(await a.lock('crit', 1000), 'string', 'the last holder released the lock')
  })

  t.test('withLock: released when fn throws; a held lock times out the wait with a clear code', async (t) => {
    const ns = unique('pwtest')
    const a = open({ namespace: ns })
    const b = caps.shared ? open({ namespace: ns }) : a
    await t.rejects(a.withLock('job', 10_000, async () => { throw new Error('boom') }), /boom/)
    const token = await b.lock('job', 10_000)
    t.type(token, 'string', 'the lock was released after the throw')
    let ran = false
    const run = async (): Promise<void> => { ran = true }
    await t.rejects(a.withLock('job', 1000, run, { wait: 100, retry: 10 }), { code: 'FST_PYWATT_CACHE_LOCK_TIMEOUT', message: /'job'.*100 ms/ })
    await t.rejects(a.withLock('job', 1000, run), { code: 'FST_PYWATT_CACHE_LOCK_TIMEOUT' }, 'no wait: one try')
    t.equal(ran, false, 'fn does not run without the lock')
    t.equal(await fresh().withLock('job', 1000, async () => 'other namespace'), 'other namespace')
    const waiting = a.withLock('job', 1000, async () => 'after the release', { wait: 10_000, retry: 10 })
    await sleep(50)
    await b.unlock('job', token!)
    t.equal(await waiting, 'after the release', 'a waiter gets the lock once it is released')
    await t.rejects(a.withLock('job', 0, run), { code: 'FST_PYWATT_CACHE_CONFIG' })
    await t.rejects(a.withLock('job', 1000, run, { retry: 0 }), { code: 'FST_PYWATT_CACHE_CONFIG' })
  })

  t.test('withLock extend: the lock outlives its ttl while fn runs', async (t) => {
    const ns = unique('pwtest')
    const a = open({ namespace: ns })
    const b = caps.shared ? open({ namespace: ns }) : a
    const ttl = caps.ttlResolution
    const seen = await a.withLock('long', ttl, async (signal) => {
      await sleep(ttl * 2 + 100)
      const other = await b.lock('long', 1000)
      await sleep(ttl / 2)
      return { other, aborted: signal.aborted }
    }, { extend: true })
    t.same(seen, { other: null, aborted: false }, 'nobody else took it past its ttl')
    t.type(await b.lock('long', 1000), 'string', 'released after fn')
  })

  t.test('withLock extend: fn\'s signal aborts when the lock is lost', async (t) => {
    const c = fresh()
    const ttl = caps.ttlResolution
    const reason = await c.withLock('lost', ttl, async (signal) => {
      // Deleting the lock's key is what an expiry during a stall would do.
      await c.delete('lock:lost')
      const aborted = new Promise<unknown>((resolve) => signal.addEventListener('abort', () => resolve(signal.reason)))
      return await Promise.race([aborted, sleep(ttl * 4).then(() => 'not aborted')])
    }, { extend: true })
    t.match(reason, { code: 'FST_PYWATT_CACHE_OPERATION', message: /lock 'lost' was lost/ })
  })

  t.test('wrap: cache-aside with one load per key', async (t) => {
    const c = fresh()
    let loads = 0
    const load = async (): Promise<{ items: string[] }> => { loads++; await sleep(20); return { items: ['a'] } }
    const results = await Promise.all([c.wrap('list', load), c.wrap('list', load), c.wrap('list', load)])
    t.same(results, [{ items: ['a'] }, { items: ['a'] }, { items: ['a'] }])
    t.equal(loads, 1)
    t.same(await c.wrap('list', load), { items: ['a'] })
    t.equal(loads, 1)
    await t.rejects(c.wrap('fails', async () => { throw new Error('no source') }), /no source/)
    t.equal(await c.has('fails'), false)
    t.equal(await c.wrap('fails', async () => 'ok'), 'ok')
  })
}
