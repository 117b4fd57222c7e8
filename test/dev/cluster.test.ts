import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DevCluster } from '../../lib/dev/cluster.js'
import { resolveDevConfig } from '../../lib/dev/config.js'
import { runCommand } from '../../lib/dev/console.js'
import type { HostExit } from '../../lib/dev/module-host.js'
import type { ClusterState } from '../../lib/dev/status-page.js'
import { eventually, http } from '../helpers/unit-cli.js'

const PEER = fileURLToPath(new URL('../../dist/test/fixtures/peer-module.js', import.meta.url))
const DIST = fileURLToPath(new URL('../../dist/lib/', import.meta.url))

/**
 * A module offered no channel: it speaks module-to-module on stdio, with
 * wire.ts (answers each request; GET-less, it only announces nothing).
 */
const STDIO_PEER = `
import { createInterface } from 'node:readline'
import { decodeRequest, encodeAnswer } from '${DIST}modules/wire.js'
import { encodeModuleMessage } from '${DIST}protocol/index.js'
let init = null
createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line)
  if (init === null) {
    init = m
    process.stdout.write(encodeModuleMessage({ op: 'announce', listen: init.listen, endpoints: [] }) + '\\n')
    return
  }
  if (m.op === 'shutdown') process.exit(0)
  if (m.op !== 'routed_module_message') return
  const request = decodeRequest(m)
  const answer = encodeAnswer(request.source, request.requestId, { ok: true, value: { from: init.module_id, over: 'stdio', echo: request.value } })
  process.stdout.write(encodeModuleMessage(answer) + '\\n')
}).on('close', () => process.exit(0))
`

function quiet (): NodeJS.WritableStream & { text: string } {
  const out = { text: '', write (chunk: string) { out.text += chunk; return true } }
  return out as unknown as NodeJS.WritableStream & { text: string }
}

async function allAnnounced (cluster: DevCluster): Promise<void> {
  await eventually(async () => [...cluster.hosts.values()].every((h) => h.state === 'running'), (ok) => ok, 15_000)
  for (const host of cluster.hosts.values()) if (host.state !== 'running') throw new Error(`${host.name} did not announce: ${host.state}`)
}

async function state (cluster: DevCluster): Promise<ClusterState> {
  return JSON.parse((await http(`${cluster.url}/_pywatt/state.json`)).body) as ClusterState
}

t.test('three modules under one gateway: longest prefix, mount, module-to-module requests, crash and restart, status page', async (t) => {
  const sockets = mkdtempSync(join(tmpdir(), 'pwd-'))
  t.after(() => rmSync(sockets, { recursive: true, force: true }))
  const plain = t.testdir({ 'stdio-peer.mjs': STDIO_PEER })
  const config = resolveDevConfig({
    gatewayPort: 0,
    heartbeat: 100,
    announceTimeout: 0,
    restart: { initialDelay: 100, maxDelay: 400, maxCrashes: 3, window: 60_000 },
    modules: [
      { name: 'users', command: [process.execPath, PEER], env: { PEER_PREFIX: '/api', PEER_WILDCARD: '1' }, channels: { tcp: true } },
      { name: 'orders', command: [process.execPath, PEER], env: { PEER_PREFIX: '/api/orders' }, channels: { unix: join(sockets, 'orders.sock') }, via: 'stdio' },
      { name: 'billing', command: [process.execPath, PEER], mount: '/billing', channels: { tcp: true }, via: 'tcp' },
      { name: 'plain', command: [process.execPath, join(plain, 'stdio-peer.mjs')] }
    ]
  }, process.cwd())
  const out = quiet()
  const cluster = new DevCluster(config, { out, grace: 2_000 })
  t.after(async () => await cluster.shutdown())
  await cluster.listen()
  await cluster.start()
  await allAnnounced(cluster)
  const gw = cluster.url
  const json = async (path: string, init: { method?: string, body?: string } = {}): Promise<{ status: number, body: any }> => {
    const res = await http(`${gw}${path}`, { ...init, ...(init.body === undefined ? {} : { headers: { 'content-type': 'application/json' } }) })
    return { status: res.status, body: res.body === '' ? null : JSON.parse(res.body) }
  }

  t.test('the gateway routes by announced endpoints and mounts', async (t) => {
    t.same((await json('/api/hello')).body, { module: 'users' })
    t.same((await json('/api/orders/hello')).body, { module: 'orders' }, 'an exact endpoint beats a shorter wildcard')
    t.same((await json('/api/orders/other')).body, { module: 'users', wildcard: '/api/orders/other' }, 'only the wildcard matches')
    t.same((await json('/billing/hello?x=1')).body, { module: 'billing' }, 'under the mount, prefix stripped, over the tcp channel')
    t.ok(cluster.host('billing')?.dev?.channels.tcp?.received.some((e) => e.content.op === 'http_response'), 'billing answered on its tcp channel (via: tcp)')
    t.ok(cluster.host('orders')?.dev?.messages.some((m) => m.op === 'http_reply'), 'orders answered on stdio (via: stdio)')
    t.notOk(cluster.host('users')?.dev?.messages.some((m) => m.op === 'http_reply'), 'users is reached over HTTP (the default)')
    t.equal((await json('/billing')).status, 404, 'the mount itself is the module\'s /')
    const none = await json('/nowhere')
    t.equal(none.status, 404)
    t.same(none.body, { error: 'no module announced a route for GET /nowhere' })
    t.equal((await json('/_pywatt/nothing')).status, 404, '/_pywatt is never routed to a module')
    // Both unmounted modules announce the probes: reported once, when the second announced.
    const health = cluster.conflicts.filter((c) => c.path === '/health')
    t.equal(health.length, 1)
    t.same([health[0]?.kept, health[0]?.other].sort(), ['orders', 'users'])
    t.match(out.text, new RegExp(`route conflict: GET /health is announced by ${String(health[0]?.kept)} and ${String(health[0]?.other)}; ${String(health[0]?.kept)} keeps it`))
    t.match(out.text, new RegExp(`to serve both, give ${String(health[0]?.other)} a "mount" in the config`), 'and how to serve both')
    t.equal(out.text.match(/to serve both, give/g)?.length, 1, 'once for all the paths of that announce')
    t.notOk(cluster.conflicts.some((c) => c.kept === 'billing' || c.other === 'billing'), 'a mounted module conflicts with no unmounted one')
  })

  t.test('route_to_module between modules, and the router\'s own answers', async (t) => {
    t.same((await json('/api/ask?target=orders&endpoint=greet')).body,
      { ok: true, value: { from: 'orders', endpoint: 'greet', echo: { asker: 'users' }, source: 'users' } }, 'users (tcp) asks orders (unix)')
    t.same((await json('/api/orders/ask?target=users')).body,
      { ok: true, value: { from: 'users', endpoint: 'greet', echo: { asker: 'orders' }, source: 'orders' } }, 'orders asks users')
    t.same((await json('/api/ask?target=plain')).body,
      { ok: true, value: { from: 'plain', over: 'stdio', echo: { asker: 'users' } } }, 'a module without channels is reached, and answers, on stdio')
    t.same((await json('/billing/ask?target=orders&endpoint=fail')).body,
      { ok: false, error: { code: 'refused', message: 'asked to fail' } }, 'an error answer comes back as such')
    const unknown = (await json('/billing/ask?target=ghost')).body
    t.equal(unknown.ok, false)
    t.equal(unknown.error.code, 'unknown_target', 'the router answers for a module that does not exist')
    t.equal(cluster.router.pending, 0, 'nothing left pending')
  })

  t.test('a delivery while the target\'s channel reconnects is held and sent on reconnect', async (t) => {
    const users = cluster.host('users')
    const tcp = users?.dev?.channels.tcp
    if (tcp === undefined) throw new Error('users has no tcp channel')
    const before = tcp.connections
    const dropped = new Promise((resolve) => tcp.once('disconnect', resolve))
    tcp.dropConnection()
    await dropped
    const held = new Promise<number>((resolve) => {
      const check = setInterval(() => {
        const n = users?.snapshot().held ?? 0
        if (n > 0 || tcp.connections > before) { clearInterval(check); resolve(n) }
      }, 1)
    })
    const asked = json('/api/orders/ask?target=users&endpoint=while-down')
    t.equal(await held, 1, 'the request waits for the channel')
    t.same((await asked).body, { ok: true, value: { from: 'users', endpoint: 'while-down', echo: { asker: 'orders' }, source: 'orders' } })
    t.equal(tcp.connections, before + 1, 'it came on the new connection')
  })

  t.test('the status page shows the modules, the requests and the calls', async (t) => {
    await json('/api/orders/hello?marker=1')
    const s = await state(cluster)
    t.same(s.modules.map((m) => m.name), ['users', 'orders', 'billing', 'plain'])
    for (const m of s.modules.slice(0, 3)) {
      t.equal(m.state, 'running', `${m.name} running`)
      t.ok(Number.isInteger(m.pid), `${m.name} has a pid`)
      t.ok(m.endpoints.length >= 4, `${m.name} endpoints`)
      t.equal(m.channels.length, 1)
      t.equal(m.channels[0]?.connected, true, `${m.name} channel connected`)
    }
    const acked = await eventually(async () => (await state(cluster)).modules.slice(0, 3).every((m) => m.heartbeats.lastAckAt !== null), (ok) => ok, 5_000)
    t.ok(acked, 'the last heartbeat ack of each module')
    const request = s.requests.find((r) => r.path === '/api/orders/hello?marker=1')
    t.match(request, { method: 'GET', module: 'orders', status: 200 }, 'the request just made')
    t.ok(s.calls.some((c) => c.caller === 'users' && c.target === 'orders' && c.outcome === 'answered'))
    t.ok(s.calls.some((c) => c.caller === 'billing' && c.target === 'ghost' && c.outcome === 'unknown_target'))
    t.match(s.routing, { requests: 6, answers: 5, refused: 1, unmatched: 0, pending: 0 })

    const page = await http(`${gw}/_pywatt`)
    t.equal(page.status, 200)
    t.match(page.headers['content-type'], 'text/html')
    for (const name of ['users', 'orders', 'billing', 'plain']) t.match(page.body, `<tr data-module="${name}" data-state="running">`)
    t.match(page.body, /<tr data-request data-method="GET" data-path="\/api\/orders\/hello\?marker=1" data-status="200" data-module="orders">/)
    t.match(page.body, '<tr data-call data-caller="users" data-target="orders" data-endpoint="greet" data-outcome="answered">')
    t.match(page.body, '/_pywatt/fragment', 'the page refreshes itself')
  })

  t.test('module logs and paths are escaped on the status page', async (t) => {
    const hostile = '<script>alert("x")</script>&'
    t.equal((await json('/billing/log', { method: 'POST', body: JSON.stringify({ text: hostile }) })).status, 200)
    await http(`${gw}/api/<img/src=x/onerror=alert(1)>`)
    const page = await eventually(async () => (await http(`${gw}/_pywatt/fragment`)).body, (b) => b.includes('alert(&quot;x&quot;)'), 5_000)
    t.match(page, '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;')
    t.notMatch(page, '<script>alert')
    t.notMatch(page, '<img')
  })

  t.test('a crashed module is reported, restarted with backoff, and the others keep serving', async (t) => {
    const orders = cluster.host('orders')
    const pid = orders?.pid
    const exited = new Promise<HostExit>((resolve) => cluster.once('exit', (_name: string, exit: HostExit) => resolve(exit)))
    await json('/api/orders/crash', { method: 'POST' })
    const exit = await exited
    t.same(exit.exit, { code: 7, signal: null })
    t.equal(exit.restartIn, 100, 'the first delay')
    t.match(out.text, /\[pywatt-dev\] orders: crashed \(exit code 7\); restarting in 100 ms\n/)
    t.same((await json('/api/hello')).body, { module: 'users' }, 'users still serves')
    const back = await eventually(async () => await json('/api/orders/hello'), (r) => r.status === 200 && r.body.module === 'orders', 10_000)
    t.same(back.body, { module: 'orders' })
    t.not(orders?.pid, pid, 'a new process')
    t.equal(orders?.restarts, 1)
    t.same((await json('/api/ask?target=orders')).body.ok, true, 'requests reach the new run on its new channel')
  })

  t.test('a stopped module: the router answers unavailable', async (t) => {
    await cluster.host('orders')?.stop()
    const answer = (await json('/api/ask?target=orders')).body
    t.equal(answer.ok, false)
    t.equal(answer.error.code, 'unavailable')
    t.match(out.text, /\[pywatt-dev\] orders: exited with code 0\n/)
  })
})

t.test('a module that keeps crashing is given up on after maxCrashes in the window', async (t) => {
  const config = resolveDevConfig({
    gatewayPort: 0,
    heartbeat: 0,
    announceTimeout: 0,
    restart: { initialDelay: 20, maxDelay: 40, maxCrashes: 3, window: 60_000 },
    modules: [{ name: 'flaky', command: [process.execPath, '-e', 'process.exit(3)'] }]
  }, process.cwd())
  const out = quiet()
  const cluster = new DevCluster(config, { out })
  t.after(async () => await cluster.shutdown())
  await cluster.listen()
  const exits: HostExit[] = []
  const gaveUp = new Promise<void>((resolve) => cluster.on('exit', (_n: string, e: HostExit) => { exits.push(e); if (e.gaveUp !== undefined) resolve() }))
  await cluster.start()
  await gaveUp
  t.same(exits.map((e) => e.restartIn ?? `gave up after ${String(e.gaveUp)}`), [20, 40, 'gave up after 3'], 'delays double up to the cap')
  t.equal(cluster.host('flaky')?.state, 'gave-up')
  t.match(out.text, /flaky: crashed \(exit code 3\) 3 times within 60 s: not restarted again \(start flaky to try again\)/)
  const res = await http(`${cluster.url}/anything`)
  t.equal(res.status, 503, 'nothing to route to')
})

t.test('console: stop cancels a planned restart; start tries again with a fresh crash count', async (t) => {
  const config = resolveDevConfig({
    gatewayPort: 0,
    heartbeat: 0,
    announceTimeout: 0.3,
    restart: { initialDelay: 60_000, maxDelay: 60_000, maxCrashes: 2 },
    modules: [{ name: 'flaky', command: [process.execPath, '-e', 'process.exit(4)'] }, { name: 'other', command: [process.execPath, '-e', 'setInterval(() => {}, 1000)'] }]
  }, process.cwd())
  const out = quiet()
  const cluster = new DevCluster(config, { out, grace: 500 })
  t.after(async () => await cluster.shutdown())
  await cluster.listen()
  const crashed = new Promise<HostExit>((resolve) => cluster.on('exit', (name: string, e: HostExit) => { if (name === 'flaky') resolve(e) }))
  await cluster.start()
  t.equal((await crashed).restartIn, 60_000)
  t.equal(cluster.host('flaky')?.state, 'restarting')
  t.equal(await runCommand(cluster, 'stop'), false)
  t.match(out.text, /\[pywatt-dev\] stop needs a module: stop <module> \(modules: flaky, other\)\n/)
  await runCommand(cluster, 'stop flaky')
  t.match(out.text, /\[pywatt-dev\] flaky: restart cancelled: stopped\n/)
  t.equal(cluster.host('flaky')?.state, 'stopped')
  const again = new Promise<HostExit>((resolve) => cluster.on('exit', (name: string, e: HostExit) => { if (name === 'flaky') resolve(e) }))
  await runCommand(cluster, 'start flaky')
  t.equal((await again).restartIn, 60_000, 'the first crash of a fresh count, not the second')
  await runCommand(cluster, 'status')
  t.match(out.text, /\n {2}flaky: restarting, 0 endpoint\(s\), restarts 0, last exit code 4\n {2}other: starting pid \d+ up \d+ s, 0 endpoint\(s\), restarts 0\n/)
  await eventually(async () => out.text, (text) => text.includes('other: no announce'), 5_000)
  t.match(out.text, /\[pywatt-dev\] other: no announce 0\.3 s after it started: nothing is routed to it before it announces\. A module that calls app\.listen\(\) never announces: call app\.pywatt\.listen\(\) instead\n/)
  t.equal(await runCommand(cluster, 'shutdown'), true)
})
