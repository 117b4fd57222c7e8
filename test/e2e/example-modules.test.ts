import t from 'tap'
import { Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { DevCluster } from '../../lib/dev/cluster.js'
import { loadDevConfig } from '../../lib/dev/config.js'
import { until } from '../helpers/fake-orchestrator.js'

const CONFIG = fileURLToPath(new URL('../../example/pywatt.dev.json', import.meta.url))

// What `npm start` runs: the example's two modules under pywatt-dev, from its config file.
t.test('the example modules: items asks stock for levels, stock reads items back, through one gateway', async (t) => {
  const config = await loadDevConfig(CONFIG)
  const cluster = new DevCluster(config, { out: new Writable({ write: (_c, _e, done) => done() }), gatewayPort: 0, grace: 3_000 })
  t.after(async () => await cluster.shutdown())
  await cluster.listen()
  await cluster.start()
  await until(() => [...cluster.hosts.values()].every((h) => h.dev?.announcedListen != null && Object.values(h.dev.channels).every((c) => c.socket !== null)), 30_000)
  const gw = cluster.url
  const json = async (path: string, init: RequestInit = {}): Promise<{ status: number, body: any }> => {
    const res = await fetch(gw + path, init)
    return { status: res.status, body: await res.json() }
  }

  t.same(await json('/api/items/1/stock'), { status: 200, body: { id: 1, inStock: 0 } }, 'items -> stock (module request)')
  t.same(await json('/stock/1', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"inStock":5}' }), { status: 200, body: { id: 1, inStock: 5 } }, 'the mount reaches stock')
  t.same((await json('/api/items/1/stock')).body, { id: 1, inStock: 5 })
  t.same(await json('/stock/1'), { status: 200, body: { id: 1, name: 'first', inStock: 5 } }, 'stock -> items (modules.fetch of GET /api/items/1)')
  t.same((await json('/stock/99')).status, 404, 'the items module\'s 404 comes through')
  t.equal((await json('/health')).status, 200, 'the unmounted module keeps /health')

  const calls = cluster.state().calls
  t.ok(calls.some((c) => c.caller === 'items' && c.target === 'stock' && c.endpoint === 'level'), 'the status page saw items -> stock')
  t.ok(calls.some((c) => c.caller === 'stock' && c.target === 'items' && c.endpoint === 'pywatt.http'), 'and stock -> items')
})
