import t from 'tap'
import { fileURLToPath } from 'node:url'
import { startModule } from '../helpers/modules.js'

const PROXIED = fileURLToPath(new URL('../../dist/test/fixtures/proxied-module.js', import.meta.url))

const json = (body: readonly number[] | null | undefined): unknown => JSON.parse(Buffer.from(body ?? []).toString())

for (const echo of [true, false]) {
  t.test(`pywatt-dev serves a module's database and cache (${echo ? 'results echo the operation' : 'no echo: matched by arrival'})`, async (t) => {
    const { dev } = await startModule(t, PROXIED, { services: { databaseUrl: 'sqlite::memory:', echo } })
    await dev.announced()
    const post = async (text: string): Promise<unknown> => json((await dev.request({ method: 'POST', uri: '/notes', headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify({ text })) })).body)
    t.same(await post('first'), { id: 1 })
    t.same(await post('second'), { id: 2 })
    const notes = [{ id: 1, text: 'first' }, { id: 2, text: 'second' }]
    const queries = (): number => dev.messages.filter((m) => m.op === 'service_operation' && m.operation === 'query').length
    t.same(json((await dev.request({ method: 'GET', uri: '/notes' })).body), notes)
    const before = queries()
    t.same(json((await dev.request({ method: 'GET', uri: '/notes' })).body), notes)
    t.equal(queries(), before, 'the second read came from the cache')
    const squares = await Promise.all(Array.from({ length: 30 }, async (_, i) => json((await dev.request({ method: 'GET', uri: `/square/${i}` })).body)))
    t.same(squares, Array.from({ length: 30 }, (_, i) => ({ square: i * i })), 'concurrent requests each get their own answer')
    const operations = dev.messages.filter((m) => m.op === 'service_operation').map((m) => (m as { operation: string }).operation)
    t.ok(operations.includes('begin_transaction') && operations.includes('transaction_commit') && operations.includes('get') && operations.includes('set'))
    t.equal((await dev.shutdown()).code, 0)
  })
}
