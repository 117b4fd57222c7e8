import t from 'tap'
import type { AddressInfo } from 'node:net'
import { createGateway, type IpcForward } from '../../lib/dev/gateway.js'

async function listen (forward: IpcForward): Promise<{ base: string, close: () => void }> {
  const gateway = createGateway(() => null, forward)
  await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve))
  return { base: `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`, close: () => gateway.close() }
}

t.test('with --ipc the gateway turns each HTTP request into one stdio request and writes its reply', async (t) => {
  const seen: Array<Parameters<IpcForward>[0]> = []
  const { base, close } = await listen(async (req) => {
    seen.push(req)
    return { status_code: 201, headers: { 'content-type': 'text/plain', 'x-from': 'ipc' }, body: [...Buffer.from('made it')] }
  })
  t.after(close)
  const res = await fetch(`${base}/api/things?x=1`, { method: 'POST', headers: { 'x-multi': 'a', 'content-type': 'text/plain' }, body: 'payload' })
  t.equal(res.status, 201)
  t.equal(res.headers.get('x-from'), 'ipc')
  t.equal(await res.text(), 'made it')
  t.equal(seen.length, 1)
  t.equal(seen[0].method, 'POST')
  t.equal(seen[0].uri, '/api/things?x=1')
  t.equal(seen[0].headers['x-multi'], 'a')
  t.equal(Buffer.from(seen[0].body ?? []).toString(), 'payload')
  const empty = await fetch(`${base}/nobody`)
  t.equal(empty.status, 201)
  t.equal(seen[1].body, undefined, 'no body when the request had none')
})

t.test('a reply without a body, and a module that cannot answer (502)', async (t) => {
  let fail = false
  const { base, close } = await listen(async () => {
    if (fail) throw new Error('the module exited before replying')
    return { status_code: 204, headers: {} }
  })
  t.after(close)
  const none = await fetch(`${base}/x`)
  t.equal(none.status, 204)
  t.equal(await none.text(), '')
  fail = true
  const res = await fetch(`${base}/x`)
  t.equal(res.status, 502)
  t.match(await res.json(), { error: /module exited/ })
})
