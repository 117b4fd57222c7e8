import t from 'tap'
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EXIT } from '../../lib/lifecycle/exit-codes.js'
import { ChannelServer } from '../../lib/dev/channel-server.js'
import { DevOrchestrator } from '../../lib/dev/orchestrator.js'
import { EXAMPLE, HOSTILE, startModule } from '../helpers/modules.js'
import { until } from '../helpers/fake-orchestrator.js'

const sockPath = (): string => join(mkdtempSync(join(tmpdir(), 'pw-')), 'ch.sock')

const cases: Array<{ method: string, uri: string, body?: string }> = [
  { method: 'GET', uri: '/health' },
  { method: 'GET', uri: '/hello' },
  { method: 'GET', uri: '/api/items' },
  { method: 'GET', uri: '/api/items/1' },
  { method: 'GET', uri: '/api/items/not-a-number' },
  { method: 'POST', uri: '/api/items', body: '{"wrong":true}' },
  { method: 'POST', uri: '/api/echo', body: JSON.stringify({ text: 'ü'.repeat(8 * 1024), n: [1, 2, 3] }) },
  { method: 'GET', uri: '/no-such-route' }
]

t.test('TCP and Unix-socket channels: heartbeats acked, every example route served by the real app, byte-identical to HTTP', async (t) => {
  const path = sockPath()
  const { dev } = await startModule(t, EXAMPLE, { tcpChannel: {}, ipcChannel: { path } })
  await dev.announced()
  const tcp = dev.channels.tcp as ChannelServer
  const ipc = dev.channels.ipc as ChannelServer
  await Promise.all([tcp.connected(), ipc.connected()])
  t.equal(statSync(path).mode & 0o777, 0o600, 'the socket file is owner-only')
  for (const server of [tcp, ipc]) {
    server.send({ op: 'heartbeat' })
    await until(() => server.received.some((e) => e.content.op === 'heartbeat_ack'))
    const ack = server.received.find((e) => e.content.op === 'heartbeat_ack')
    t.match(ack?.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'enveloped with a UUID v4 id')
    t.same(ack?.metadata, {}, 'metadata {}')
  }
  for (const c of cases) {
    const headers: Record<string, string> = c.body === undefined ? {} : { 'content-type': 'application/json' }
    const http = await fetch(`http://${dev.listen}${c.uri}`, { method: c.method, headers, body: c.body })
    const httpBody = Buffer.from(await http.arrayBuffer())
    for (const [name, server] of [['tcp', tcp], ['ipc', ipc]] as const) {
      const res = await server.request({ method: c.method, uri: c.uri, headers, ...(c.body === undefined ? {} : { body: Buffer.from(c.body) }) })
      const label = `${name} ${c.method} ${c.uri}`
      t.equal(res.status_code, http.status, `${label}: status`)
      t.ok(Buffer.from(res.body ?? []).equals(httpBody), `${label}: byte-identical body`)
      t.equal(res.headers['content-type'], http.headers.get('content-type') ?? undefined, `${label}: content-type`)
    }
  }
  t.notOk(dev.messages.some((m) => m.op === 'http_reply'), 'no channel reply leaked onto stdout')
  ipc.send({ op: 'shutdown' })
  t.same(await dev.waitForExit(10_000), { code: EXIT.OK, signal: null }, 'shutdown on a channel is the normal stop')
  t.notOk(existsSync(path), 'the socket file is gone after the session')
  t.same(dev.garbage, [])
})

t.test('the orchestrator\'s channel dies mid-request and comes back: every request answered exactly once, then the channel is used again', async (t) => {
  const { dev, stderr } = await startModule(t, HOSTILE, { tcpChannel: {}, extraEnv: { IPC_HTTP: '1' } })
  await dev.announced()
  const tcp = dev.channels.tcp as ChannelServer
  await tcp.connected()
  const port = Number(tcp.address.split(':')[1])
  const ids = Array.from({ length: 20 }, (_, i) => `slow-${i}`)
  for (const id of ids) tcp.send({ op: 'http_request', request_id: id, method: 'GET', uri: '/slow?ms=300', headers: {} })
  // Let the module read them all, then kill the orchestrator's end before any reply.
  await new Promise((resolve) => setTimeout(resolve, 100))
  const beforeDeath = tcp.received.length
  await tcp.close()
  const replies = new Map<string, number>()
  const count = (id: string): void => { replies.set(id, (replies.get(id) ?? 0) + 1) }
  dev.on('message', (m: { op: string, content?: { request_id: string } }) => { if (m.op === 'http_reply' && m.content !== undefined) count(m.content.request_id) })
  for (const m of dev.messages) if (m.op === 'http_reply') count(m.content.request_id)
  await until(() => replies.size === ids.length, 10_000)
  t.equal(beforeDeath, 0, 'nothing had been answered on the channel before it died')
  t.same([...replies.keys()].sort(), [...ids].sort(), 'every request answered, over stdio (the {content, metadata} wrapper)')
  t.ok([...replies.values()].every((n) => n === 1), 'none twice')

  const again = new ChannelServer({ kind: 'tcp', port })
  await again.listen()
  t.after(() => again.close())
  await again.connected()
  const res = await again.request({ method: 'GET', uri: '/slow?ms=1', headers: {} })
  t.equal(res.status_code, 200, 'served on the reconnected channel')
  t.same(JSON.parse(Buffer.from(res.body ?? []).toString()), { slept: 1 })
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.same([...replies.values()].filter((n) => n !== 1), [], 'still none twice')
  t.ok(stderr.some((l) => l.includes('channel connection lost')))
  t.ok(stderr.some((l) => l.includes('"reconnect":true')))
  t.same(await dev.shutdown(), { code: EXIT.OK, signal: null })
})

t.test('raw malformed frames: the connection is dropped with a logged reason, no huge allocation, the module keeps running', async (t) => {
  const { dev, stderr } = await startModule(t, EXAMPLE, { tcpChannel: {} })
  await dev.announced()
  const tcp = dev.channels.tcp as ChannelServer
  await tcp.connected()
  const rssKiB = (): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${dev.child.pid ?? 0}/status`, 'utf8'))?.[1])
  const rssBefore = rssKiB()
  for (const [label, bytes] of [
    ['4 GiB length', Buffer.from('ffffffff01', 'hex')],
    ['format 0', Buffer.from('00000012007b226f70223a22686561727462656174227d', 'hex')],
    ['format 7', Buffer.from('00000012077b226f70223a22686561727462656174227d', 'hex')]
  ] as const) {
    const connections = tcp.connections
    tcp.sendRaw(bytes)
    await until(() => tcp.connections === connections + 1 && tcp.socket !== null, 10_000)
    t.pass(`${label}: dropped and reconnected`)
  }
  t.ok(rssKiB() - rssBefore < 64 * 1024, 'RSS grew less than 64 MiB (frame-allocation.test.ts checks that nothing is reserved)')
  t.ok(stderr.some((l) => l.includes('framing error') && l.includes('exceeds the maximum of 67108864 bytes')))
  t.ok(stderr.some((l) => l.includes('invalid frame format byte 0')))
  t.ok(stderr.some((l) => l.includes('invalid frame format byte 7')))
  // Byte by byte: a heartbeat dribbled one byte per write is still one message.
  const frame = Buffer.from('00000012017b226f70223a22686561727462656174227d', 'hex')
  for (const byte of frame) {
    tcp.sendRaw(Buffer.from([byte]))
    await new Promise((resolve) => setImmediate(resolve))
  }
  await until(() => tcp.received.some((e) => e.content.op === 'heartbeat_ack'))
  dev.heartbeat()
  await until(() => dev.heartbeats.acked === 1)
  const rss = await dev.request({ method: 'GET', uri: '/health' })
  t.equal(rss.status_code, 200, 'stdio still serves')
  t.same(await dev.shutdown(), { code: EXIT.OK, signal: null })
})

for (const [label, opts, pattern] of [
  ['a required TCP channel nobody listens on', { tcp: true }, /^Required tcp channel unavailable: not connected within 500 ms \(last error: connect ECONNREFUSED 127\.0\.0\.1:\d+\)$/],
  ['a required Unix socket path over the platform limit', { longPath: true }, /^Required ipc channel unavailable: Invalid ipc channel: socket_path is 1\d\d bytes long; the limit on linux is 107 bytes \(a longer path would be truncated by the kernel\)$/]
] as const) {
  t.test(`${label}: the module refuses to start with a clear error and exit code 2`, async (t) => {
    const port = await (async () => {
      const s = new ChannelServer({ kind: 'tcp' })
      await s.listen()
      const p = Number(s.address.split(':')[1])
      await s.close()
      return p
    })()
    const init: Record<string, unknown> = { orchestrator_api: 'http://127.0.0.1:0', module_id: 'm', env: {}, listen: '127.0.0.1:0' }
    if ('tcp' in opts) init.tcp_channel = { address: `127.0.0.1:${port}`, tls_enabled: false, required: true }
    if ('longPath' in opts) init.ipc_channel = { socket_path: join(tmpdir(), 'x'.repeat(120)), required: true }
    const dev = new DevOrchestrator({
      command: process.execPath,
      args: [HOSTILE],
      env: { ...process.env, CHANNEL_CONNECT_TIMEOUT: '500' },
      secrets: { API_KEY: 'k3y-value' },
      initLine: JSON.stringify(init)
    })
    const stderr: string[] = []
    dev.on('stderr', (l: string) => stderr.push(l))
    t.after(() => dev.kill())
    await dev.start()
    const exit = await dev.waitForExit(20_000)
    t.same(exit, { code: EXIT.REFUSED, signal: null })
    const fatal = stderr.map((l) => { try { return JSON.parse(l) } catch { return {} } }).find((e) => e.level === 60)
    t.match(fatal?.err?.message, pattern)
    t.equal(fatal?.err?.code, 'FST_PYWATT_CHANNEL_REQUIRED')
    t.equal(dev.announcedListen, null, 'nothing announced')
  })
}
