import t from 'tap'
import { readFileSync } from 'node:fs'
import { EXIT } from '../../lib/lifecycle/exit-codes.js'
import type { ChannelServer } from '../../lib/dev/channel-server.js'
import { encodeFrame } from '../../lib/protocol/index.js'
import { until } from '../helpers/fake-orchestrator.js'
import { HOSTILE_LINES } from '../helpers/hostile-lines.js'
import { EXAMPLE, startModule } from '../helpers/modules.js'

const cases: Array<{ method: string, uri: string, body?: string }> = [
  { method: 'GET', uri: '/health' },
  { method: 'GET', uri: '/hello' },
  { method: 'GET', uri: '/api/items' },
  { method: 'GET', uri: '/api/items/1' },
  { method: 'GET', uri: '/api/items/999' },
  { method: 'GET', uri: '/api/items/not-a-number' },
  { method: 'POST', uri: '/api/items', body: '{"name":"über"}' },
  { method: 'POST', uri: '/api/items', body: '{"wrong":true}' },
  { method: 'POST', uri: '/api/echo', body: JSON.stringify({ text: 'x'.repeat(16 * 1024), n: [1, 2, 3] }) },
  { method: 'GET', uri: '/no-such-route' }
]

t.test('every route of the example answers over stdio exactly as over HTTP', async (t) => {
  const { dev } = await startModule(t, EXAMPLE)
  await dev.announced()
  for (const c of cases) {
    const headers: Record<string, string> = c.body === undefined ? {} : { 'content-type': 'application/json' }
    const http = await fetch(`http://${dev.listen}${c.uri}`, { method: c.method, headers, body: c.body })
    const httpBody = Buffer.from(await http.arrayBuffer())
    const ipc = await dev.request({ method: c.method, uri: c.uri, headers, ...(c.body === undefined ? {} : { body: Buffer.from(c.body) }) })
    const ipcBody = Buffer.from(ipc.body ?? [])
    const label = `${c.method} ${c.uri}`
    t.equal(ipc.status_code, http.status, `${label}: status`)
    if (http.status === 201) {
      // Each call creates a new item: only the generated id may differ.
      const norm = (b: Buffer): string => b.toString().replace(/"id":\d+/g, '"id":N')
      t.equal(norm(ipcBody), norm(httpBody), `${label}: body apart from the new id`)
    } else {
      t.ok(ipcBody.equals(httpBody), `${label}: byte-identical body`)
    }
    t.equal(ipc.headers['content-type'], http.headers.get('content-type') ?? undefined, `${label}: content-type`)
  }
  t.same(await dev.shutdown(), { code: EXIT.OK, signal: null })
  t.same(dev.garbage, [])
})

t.test('T6 10 000 requests written at once: each answered exactly once', async (t) => {
  const { dev } = await startModule(t, EXAMPLE)
  await dev.announced()
  const ids: string[] = []
  let lines = ''
  for (let i = 0; i < 10_000; i++) {
    ids.push(`burst-${i}`)
    lines += `{"op":"http_request","request_id":"burst-${i}","method":"GET","uri":"/api/items/1","headers":{}}\n`
  }
  const replies = new Map<string, number>()
  dev.on('message', (m: { op: string, content?: { request_id: string, status_code: number } }) => {
    if (m.op === 'http_reply' && m.content !== undefined) replies.set(m.content.request_id, (replies.get(m.content.request_id) ?? 0) + 1)
  })
  dev.child.stdin.write(lines)
  const started = Date.now()
  while (replies.size < 10_000 && Date.now() - started < 60_000) await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(replies.size, 10_000, 'all answered')
  t.ok([...replies.values()].every((n) => n === 1), 'none twice')
  t.ok(ids.every((id) => replies.has(id)), 'no reply to an id never sent')
  t.same(await dev.shutdown(), { code: EXIT.OK, signal: null })
})

t.test('T10 a slow reader: the module stops reading while stdout is backed up, memory stays bounded, nothing is lost', async (t) => {
  const { dev } = await startModule(t, EXAMPLE)
  await dev.announced()
  const rss = (): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${String(dev.child.pid)}/status`, 'utf8'))?.[1] ?? 0) * 1024
  const replies = new Map<string, number>()
  dev.on('message', (m: { op: string, content?: { request_id: string } }) => {
    if (m.op === 'http_reply' && m.content !== undefined) replies.set(m.content.request_id, (replies.get(m.content.request_id) ?? 0) + 1)
  })
  const body = `[${[...Buffer.from(JSON.stringify({ pad: 'p'.repeat(4096) }))].join(',')}]`
  const before = rss()
  dev.child.stdout.pause()
  const total = 10_000
  for (let i = 0; i < total; i++) {
    dev.child.stdin.write(`{"op":"http_request","request_id":"slow-${i}","method":"POST","uri":"/api/echo","headers":{"content-type":"application/json"},"body":${body}}\n`)
  }
  let peak = 0
  for (let i = 0; i < 20; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    peak = Math.max(peak, rss())
  }
  // Unbounded, the replies alone would be ~150 MB of JSON held by the module.
  t.ok(peak - before < 100 * 1024 * 1024, `RSS grew ${Math.round((peak - before) / 1048576)} MiB while nobody read stdout`)
  t.ok(replies.size < total, 'replies are held back, not dropped')
  dev.child.stdout.resume()
  const started = Date.now()
  while (replies.size < total && Date.now() - started < 60_000) await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(replies.size, total, 'every request answered once reading resumed')
  t.ok([...replies.values()].every((n) => n === 1), 'none twice')
  t.same(await dev.shutdown(), { code: EXIT.OK, signal: null })
})

t.test('lines that are not a valid http_request, on stdin: the module lives on, heartbeats are acked, requests answered', async (t) => {
  const { dev, stderr } = await startModule(t, EXAMPLE)
  await dev.announced()
  for (const { line } of HOSTILE_LINES) dev.sendRaw(line)
  dev.heartbeat()
  const after = await dev.request({ method: 'GET', uri: '/health' })
  t.equal(after.status_code, 200, 'a later request is answered')
  await dev.waitFor((m) => m.op === 'heartbeat_ack')
  for (const { answer } of HOSTILE_LINES) {
    if (answer === undefined) continue
    const reply = await dev.waitFor((m) => m.op === 'http_reply' && m.content.request_id === answer.id)
    t.equal(reply.op === 'http_reply' && reply.content.status_code, 400)
    t.match(reply.op === 'http_reply' && Buffer.from(reply.content.body ?? []).toString(), answer.names, 'the 400 names the missing field')
  }
  t.equal(dev.messages.filter((m) => m.op === 'http_reply').length, 2, 'no reply to a line whose id cannot be read')
  t.equal(dev.exited, null, 'still running')
  t.same(await dev.shutdown(), { code: EXIT.OK, signal: null })
  // After the exit: the log is written asynchronously.
  t.notOk(stderr.some((l) => l.includes('handler threw')), 'no consumer threw')
})

t.test('the same payloads as TCP channel frames: the module lives on, heartbeats are acked, requests answered', async (t) => {
  const { dev, stderr } = await startModule(t, EXAMPLE, { tcpChannel: {} })
  await dev.announced()
  const tcp = dev.channels.tcp as ChannelServer
  await tcp.connected()
  for (const { line } of HOSTILE_LINES) tcp.sendRaw(encodeFrame(line))
  tcp.send({ op: 'heartbeat' })
  const after = await tcp.request({ method: 'GET', uri: '/health', headers: {} })
  t.equal(after.status_code, 200, 'a later request is answered')
  await until(() => tcp.received.some((e) => e.content.op === 'heartbeat_ack'))
  const responses = tcp.received.flatMap((e) => e.content.op === 'http_response' ? [e.content] : [])
  for (const { answer } of HOSTILE_LINES) {
    if (answer === undefined) continue
    const reply = responses.find((r) => r.request_id === answer.id)
    t.equal(reply?.status_code, 400)
    t.match(Buffer.from(reply?.body ?? []).toString(), answer.names, 'the 400 names the missing field')
  }
  t.equal(responses.length, 2, 'no reply to a frame whose id cannot be read')
  t.equal(dev.exited, null, 'still running')
  t.same(await dev.shutdown(), { code: EXIT.OK, signal: null })
  // After the exit: the log is written asynchronously.
  t.notOk(stderr.some((l) => l.includes('handler threw')), 'no consumer threw')
})
