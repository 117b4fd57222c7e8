import t, { type Test } from 'tap'
import { buildApp } from '../../example/app.js'
import { FakeOrchestrator } from '../helpers/fake-orchestrator.js'
import type { Database } from '../../lib/db/index.js'
import { requireServer, unique } from './helpers.js'
import { EXAMPLE, startModule } from '../helpers/modules.js'

/**
 * A fresh PostgreSQL schema for this run (dropped afterwards) and the admin
 * connection that made it, once PostgreSQL and Redis are both reachable;
 * `null` when the test is skipped.
 */
async function postgresAndRedis (t: Test, prefix: string): Promise<{ schema: string, admin: Database } | null> {
  if (!await requireServer(t, 'PostgreSQL', '127.0.0.1', 5432)) return null
  if (!await requireServer(t, 'Redis', '127.0.0.1', 6379)) return null
  const schema = unique(prefix)
  const { createDatabase } = await import('../../lib/db/index.js')
  const admin = createDatabase({ url: 'postgres://postgres@127.0.0.1:5432/test' })
  await admin.execute(`CREATE SCHEMA ${schema}`)
  t.after(async () => { await admin.execute(`DROP SCHEMA ${schema} CASCADE`); await admin.close() })
  return { schema, admin }
}

async function exercise (t: Test, opts: Record<string, unknown>, secrets: Record<string, string>): Promise<void> {
  const orch = new FakeOrchestrator()
  orch.init()
  orch.serveSecrets({ API_KEY: 'example-api-key', JWT_SECRET: 'example-jwt-secret-0123456789abcdef', ...secrets })
  const app = await buildApp({ io: orch.io, exitOnStop: false, ...opts })
  t.after(() => app.close())
  const list1 = await app.inject({ url: '/api/items' })
  t.same(list1.json(), [{ id: 1, name: 'first' }])
  const before = app.pywatt.cache.stats().hits
  await app.inject({ url: '/api/items' })
  t.equal(app.pywatt.cache.stats().hits, before + 1, 'the second list came from the cache')
  const created = await app.inject({ method: 'POST', url: '/api/items', payload: { name: 'second' } })
  t.equal(created.statusCode, 201)
  t.same(created.json(), { id: 2, name: 'second' })
  t.same((await app.inject({ url: '/api/items' })).json(), [{ id: 1, name: 'first' }, { id: 2, name: 'second' }], 'a write invalidates the cached list')
  t.same((await app.inject({ url: '/api/items/2' })).json(), { id: 2, name: 'second' })
  t.equal((await app.inject({ url: '/api/items/99' })).statusCode, 404)
}

t.test('example items API on the embedded defaults', async (t) => {
  await exercise(t, {}, {})
})

t.test('the same code on PostgreSQL and Redis from URL secrets', async (t) => {
  const pg = await postgresAndRedis(t, 'pwex')
  if (pg === null) return
  const { schema } = pg
  // A per-run schema keeps parallel runs apart (search_path through the connection options).
  process.env.PGOPTIONS = `-c search_path=${schema}`
  t.after(() => { delete process.env.PGOPTIONS })
  await exercise(t, { db: { urlSecret: 'DATABASE_URL' }, cache: { urlSecret: 'REDIS_URL', namespace: schema } }, {
    DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test',
    REDIS_URL: 'redis://127.0.0.1:6379/0'
  })
})

t.test('the built example under the dev orchestrator: DATABASE_URL and REDIS_URL in its environment switch it to PostgreSQL and Redis', async (t) => {
  const pg = await postgresAndRedis(t, 'pwdev')
  if (pg === null) return
  const { schema, admin } = pg
  const urls = { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test', REDIS_URL: 'redis://127.0.0.1:6379/0' }
  const { dev, stderr } = await startModule(t, EXAMPLE, {
    secrets: { API_KEY: 'example-api-key', JWT_SECRET: 'example-jwt-secret-0123456789abcdef', ...urls },
    extraEnv: { ...urls, PGOPTIONS: `-c search_path=${schema}`, EXAMPLE_CACHE_NAMESPACE: schema }
  })
  await dev.announced()
  t.ok(dev.messages.some((m) => m.op === 'get_secret' && m.name === 'DATABASE_URL'), 'the URL came as a secret')
  const created = await fetch(`http://${dev.listen}/api/items`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'on-postgres' }) })
  t.equal(created.status, 201)
  const rows = await admin.query<{ name: string }>(`SELECT name FROM ${schema}.items ORDER BY id`)
  t.same(rows.map((r) => r.name), ['first', 'on-postgres'], 'the rows are in PostgreSQL')
  t.same(await (await fetch(`http://${dev.listen}/api/items`)).json(), [{ id: 1, name: 'first' }, { id: 2, name: 'on-postgres' }])
  t.same(await dev.shutdown(), { code: 0, signal: null })
  t.notOk(stderr.some((l) => l.includes('postgres://postgres@')), 'the URL is never logged')
})
