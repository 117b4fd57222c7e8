import t, { type Test } from 'tap'
import { createDatabase } from '../../lib/db/index.js'
import { createCache } from '../../lib/cache/index.js'
import { TcpProxy } from '../helpers/tcp-proxy.js'
import { requireServer, sleep, unique } from './helpers.js'

/** Retry `work` until it resolves (the server is back), or fail after `timeout`. */
async function recovered<T> (work: () => Promise<T>, timeout = 15_000): Promise<T> {
  const started = Date.now()
  for (;;) {
    try {
      return await work()
    } catch (err) {
      if (Date.now() - started > timeout) throw err
      await sleep(100)
    }
  }
}

async function proxyFor (t: Test, port: number): Promise<TcpProxy> {
  const proxy = new TcpProxy('127.0.0.1', port)
  await proxy.start()
  t.after(() => proxy.close())
  return proxy
}

const databases = [
  { name: 'PostgreSQL', port: 5432, url: (p: number) => `postgres://postgres@127.0.0.1:${p}/test`, serial: 'SERIAL PRIMARY KEY', ph: (n: number) => `$${n}` },
  { name: 'MariaDB', port: 3306, url: (p: number) => `mysql://root@127.0.0.1:${p}/test`, serial: 'INT AUTO_INCREMENT PRIMARY KEY', ph: () => '?' }
]

for (const d of databases) {
  t.test(`${d.name} stopped mid-run: errors reported, recovery when it returns, no acknowledged write lost`, async (t) => {
    if (!await requireServer(t, d.name, '127.0.0.1', d.port)) return
    const proxy = await proxyFor(t, d.port)
    const table = unique('outage')
    const direct = createDatabase({ url: d.url(d.port) })
    t.after(async () => { await direct.execute(`DROP TABLE IF EXISTS ${table}`); await direct.close() })
    const db = createDatabase({ url: d.url(proxy.port), pool: { max: 4, acquireTimeout: 1_000 } })
    t.after(() => db.close())
    await db.execute(`CREATE TABLE ${table} (id ${d.serial}, v TEXT NOT NULL)`)
    for (let i = 0; i < 5; i++) await db.execute(`INSERT INTO ${table} (v) VALUES (${d.ph(1)})`, [`before-${i}`])

    await proxy.cut()
    const during = await Promise.allSettled([
      db.query(`SELECT v FROM ${table}`),
      db.execute(`INSERT INTO ${table} (v) VALUES (${d.ph(1)})`, ['during'])
    ])
    for (const r of during) {
      t.equal(r.status, 'rejected')
      if (r.status === 'rejected') {
        t.match((r.reason as { code: string }).code, /^FST_PYWATT_DB_(QUERY|POOL_TIMEOUT|CLOSED)$/, `a clear error: ${(r.reason as Error).message}`)
        t.notMatch((r.reason as Error).message, /postgres:\/\/|mysql:\/\//, 'no connection string in the error')
      }
    }

    await proxy.restore()
    const rows = await recovered(() => db.query<{ v: string }>(`SELECT v FROM ${table} ORDER BY id`))
    t.same(rows.map((r) => r.v).filter((v) => v.startsWith('before-')), ['before-0', 'before-1', 'before-2', 'before-3', 'before-4'], 'every acknowledged write is there')
    await db.execute(`INSERT INTO ${table} (v) VALUES (${d.ph(1)})`, ['after'])
    t.ok((await direct.query<{ v: string }>(`SELECT v FROM ${table}`)).some((r) => r.v === 'after'), 'writes work again')
  })
}

const caches = [
  { name: 'Redis', port: 6379, url: (p: number) => `redis://127.0.0.1:${p}/0` },
  { name: 'Memcached', port: 11211, url: (p: number) => `memcached://127.0.0.1:${p}` }
]

for (const c of caches) {
  t.test(`${c.name} stopped mid-run: errors reported, recovery when it returns, no acknowledged write lost`, async (t) => {
    if (!await requireServer(t, c.name, '127.0.0.1', c.port)) return
    const proxy = await proxyFor(t, c.port)
    const namespace = unique('outage')
    const cache = createCache({ url: c.url(proxy.port), namespace, commandTimeout: 500 })
    t.after(() => cache.close())
    for (let i = 0; i < 5; i++) await cache.set(`k${i}`, `v${i}`, { ttl: 60_000 })

    await proxy.cut()
    const during = await Promise.allSettled([cache.get('k0'), cache.set('k-during', 'x')])
    for (const r of during) {
      t.equal(r.status, 'rejected')
      if (r.status === 'rejected') t.equal((r.reason as { code: string }).code, 'FST_PYWATT_CACHE_OPERATION', `a clear error: ${(r.reason as Error).message}`)
    }

    await proxy.restore()
    t.same(await recovered(() => cache.getMany(['k0', 'k1', 'k2', 'k3', 'k4'])), ['v0', 'v1', 'v2', 'v3', 'v4'], 'every acknowledged write is there')
    await cache.set('k-after', 'y')
    t.equal(await cache.get('k-after'), 'y', 'writes work again')
    await cache.deleteMany(['k0', 'k1', 'k2', 'k3', 'k4', 'k-after'])
  })
}
