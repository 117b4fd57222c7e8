import t from 'tap'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startModule } from '../helpers/modules.js'
import { http, runCli } from '../helpers/unit-cli.js'

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

t.test('the pywatt-dev command line: --database-url, --cache-url, --no-service-echo', async (t) => {
  const dir = t.testdir({})
  const cli = runCli(t, [
    '--gateway-port', '0', '--heartbeat', '0',
    '--database-url', `sqlite:${join(dir, 'served.sqlite')}`, '--cache-url', 'memory:', '--no-service-echo',
    '--', process.execPath, PROXIED
  ])
  const [, port] = await cli.stdout.next(/\[pywatt-dev\] gateway on http:\/\/127\.0\.0\.1:(\d+) -> module\n/)
  await cli.stdout.next(/\[pywatt-dev\] serving the Database and Cache services on request \(results without the echo of the operation\)\n/)
  await cli.stdout.next(/module announced/)
  const gateway = `http://127.0.0.1:${port}`
  const created = await http(`${gateway}/notes`, { method: 'POST', body: JSON.stringify({ text: 'kept in the file' }), headers: { 'content-type': 'application/json' } })
  t.equal(created.status, 200)
  t.same(JSON.parse((await http(`${gateway}/notes`)).body), [{ id: 1, text: 'kept in the file' }])
  t.ok(existsSync(join(dir, 'served.sqlite')), 'the database is the one --database-url names')
  cli.child.stdin.write('shutdown\n')
  t.equal((await cli.exit).code, 0)
})
