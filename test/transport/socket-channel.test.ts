import { test, type Test } from 'tap'
import { once } from 'node:events'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { mkdtempSync, readFileSync, statSync, existsSync } from 'node:fs'
import { createServer as createTlsServer } from 'node:tls'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ChannelServer } from '../../lib/dev/channel-server.js'
import { SocketChannel, type ChannelTarget, type SocketChannelOptions } from '../../lib/transport/socket-channel.js'
import { encodeEnvelope, encodeFrame, encodeModuleEnvelope, readFrame, type OrchestratorMessage } from '../../lib/protocol/index.js'
import { captureLogger } from '../helpers/log-capture.js'
import { until } from '../helpers/fake-orchestrator.js'

type Tap = Test

async function server (t: Tap, kind: 'tcp' | 'unix' = 'tcp'): Promise<ChannelServer> {
  const s = new ChannelServer(kind === 'tcp' ? { kind: 'tcp' } : { kind: 'unix', path: join(mkdtempSync(join(tmpdir(), 'pw-')), 'c.sock') })
  await s.listen()
  t.after(() => s.close())
  return s
}

function targetOf (s: ChannelServer): ChannelTarget {
  if (s.target.kind === 'unix') return { kind: 'unix', path: s.address }
  return { kind: 'tcp', host: '127.0.0.1', port: Number(s.address.split(':')[1]), tls: false }
}

function channel (t: Tap, target: ChannelTarget, extra: Partial<SocketChannelOptions> = {}) {
  const log = captureLogger()
  const ch = new SocketChannel({
    name: target.kind === 'unix' ? 'ipc' : 'tcp',
    target,
    maxFrameBytes: 1024 * 1024,
    connectTimeout: 2_000,
    partialFrameTimeout: 5_000,
    highWaterBytes: 16 * 1024 * 1024,
    reconnect: { initialDelay: 10, maxDelay: 40, maxAttempts: 50 },
    breaker: { threshold: 5, halfOpenAfter: 30_000 },
    identifyAs: null,
    log: log.logger,
    ...extra
  })
  const messages: OrchestratorMessage[] = []
  ch.on('message', (m: OrchestratorMessage) => messages.push(m))
  t.after(() => ch.close())
  return { ch, messages, log }
}

for (const kind of ['tcp', 'unix'] as const) {
  test(`${kind}: messages both ways, bare and enveloped frames, counters`, async (t) => {
    const s = await server(t, kind)
    const { ch, messages } = channel(t, targetOf(s))
    ch.start()
    await ch.connected(2_000)
    await s.connected()
    s.send({ op: 'heartbeat' })
    s.sendRaw(encodeFrame(JSON.stringify({ id: '6f1c1b8e-9d2a-4c1e-8f3b-2a5d7c9e0b11', content: { op: 'shutdown' }, metadata: {} })))
    await until(() => messages.length === 2)
    t.same(messages.map((m) => m.op), ['heartbeat', 'shutdown'], 'an envelope is unwrapped')
    t.ok(ch.send(encodeModuleEnvelope({ op: 'heartbeat_ack' })))
    await until(() => s.received.length === 1)
    t.equal(s.received[0]?.content.op, 'heartbeat_ack')
    const stats = ch.stats()
    t.match(stats, { state: 'connected', breaker: 'closed', framesIn: 2, framesOut: 1, connects: 1, reconnects: 0, malformed: 0 })
    t.ok(stats.bytesIn > 0 && stats.bytesOut > 0)
    t.equal(ch.connection?.destroyed, false)
  })
}

test('the dev server makes its Unix socket owner-only and removes it on close', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-'))
  const s = new ChannelServer({ kind: 'unix', path: join(dir, 'mode.sock') })
  await s.listen()
  t.equal(statSync(s.address).mode & 0o777, 0o600)
  await s.close()
  t.notOk(existsSync(join(dir, 'mode.sock')))
})

test('a malformed payload is skipped and reported; the channel stays up', async (t) => {
  const s = await server(t)
  const { ch, messages, log } = channel(t, targetOf(s))
  const invalid: string[] = []
  ch.on('invalid', (text: string) => invalid.push(text))
  ch.start()
  await ch.connected(2_000)
  await s.connected()
  s.sendRaw(encodeFrame('{"op":"nope"}'))
  s.sendRaw(Buffer.concat([Buffer.from('0000000403', 'hex'), Buffer.from('e30=')]))
  s.send({ op: 'heartbeat' })
  await until(() => messages.length === 1)
  t.same(invalid, ['{"op":"nope"}', ''], 'the JSON text is handed on (not for base64 frames)')
  t.equal(ch.stats().malformed, 2)
  t.equal(ch.state, 'connected')
  t.ok(log.entries().some((e) => e.msg === 'skipped a malformed frame' && /unknown op|nope/.test(e.err.message)))
  t.notOk(log.lines.some((l) => l.includes('"op\\":\\"nope')), 'the payload is not logged')
})

test('a framing error drops the connection, which is re-established; a handler that throws does not', async (t) => {
  const s = await server(t)
  const { ch, messages, log } = channel(t, targetOf(s))
  ch.on('message', (m: OrchestratorMessage) => { if (m.op === 'shutdown') throw new Error('handler bug') })
  ch.on('invalid', () => { throw new Error('invalid handler bug') })
  ch.start()
  await ch.connected(2_000)
  await s.connected()
  s.send({ op: 'shutdown' })
  s.sendRaw(encodeFrame('null'))
  s.sendRaw(Buffer.from('ffffffff01', 'hex'))
  await until(() => ch.stats().reconnects === 1)
  t.ok(log.entries().some((e) => e.msg === 'framing error: dropping the channel connection' && /exceeds the maximum/.test(e.reason)))
  t.same(log.entries().filter((e) => e.msg === 'a channel message handler threw').map((e) => [e.event, e.err.message]),
    [['message', 'handler bug'], ['invalid', 'invalid handler bug']])
  t.equal(ch.stats().handlerErrors, 2, 'each counted')
  await ch.connected(2_000)
  await until(() => s.socket !== null)
  s.send({ op: 'heartbeat' })
  await until(() => messages.some((m) => m.op === 'heartbeat'))
  t.equal(s.connections, 2)
})

test('bad format bytes 0 and 4 are framing errors', async (t) => {
  for (const format of [0, 4]) {
    const s = await server(t)
    const { ch, log } = channel(t, targetOf(s))
    ch.start()
    await ch.connected(2_000)
    await s.connected()
    s.sendRaw(Buffer.concat([Buffer.from([0, 0, 0, 18, format]), Buffer.from('{"op":"heartbeat"}')]))
    await until(() => ch.stats().errors >= 1)
    t.ok(log.entries().some((e) => /invalid frame format byte/.test(e.reason ?? '')), `format ${format}`)
    await ch.close()
  }
})

test('a frame left incomplete is dropped after partialFrameTimeout (slow drip)', async (t) => {
  const s = await server(t)
  const { ch, log } = channel(t, targetOf(s), { partialFrameTimeout: 100 })
  ch.start()
  await ch.connected(2_000)
  await s.connected()
  s.sendRaw(Buffer.from('0000001201', 'hex'))
  s.sendRaw(Buffer.from('{"op"'))
  await until(() => ch.stats().reconnects === 1)
  t.ok(log.entries().some((e) => /stayed incomplete for 100 ms/.test(e.reason ?? '')))
})

test('reconnect: the server goes away and comes back on the same port', async (t) => {
  const s = await server(t)
  const target = targetOf(s)
  const { ch, log } = channel(t, target)
  const states: string[] = []
  ch.on('state', (st: string) => states.push(st))
  ch.start()
  await ch.connected(2_000)
  await s.connected()
  await s.close()
  await until(() => ch.state === 'reconnecting')
  t.notOk(ch.usable)
  t.notOk(ch.send(encodeModuleEnvelope({ op: 'heartbeat_ack' })), 'a down channel refuses frames (the caller fails over)')
  await new Promise((resolve) => setTimeout(resolve, 150))
  const again = new ChannelServer({ kind: 'tcp', port: (target as { port: number }).port })
  await again.listen()
  t.after(() => again.close())
  await ch.connected(3_000)
  t.equal(ch.stats().reconnects, 1)
  t.ok(states.includes('reconnecting'))
  t.ok(log.entries().some((e) => e.msg === 'channel connection lost'))
  t.ok(log.entries().some((e) => e.msg === 'channel connected' && e.reconnect === true))
})

test('reconnect gives up after maxAttempts consecutive failures, and never runs after close', async (t) => {
  const s = await server(t)
  const target = targetOf(s)
  await s.close()
  const { ch, log } = channel(t, target, { reconnect: { initialDelay: 5, maxDelay: 10, maxAttempts: 3 } })
  ch.start()
  await t.rejects(ch.connected(5_000), /the channel is failed/)
  t.equal(ch.state, 'failed')
  t.ok(log.entries().some((e) => e.msg === 'channel given up after repeated connection failures' && e.attempts === 3))

  const s2 = await server(t)
  const { ch: ch2 } = channel(t, targetOf(s2), { reconnect: { initialDelay: 5, maxDelay: 10, maxAttempts: 100 } })
  ch2.start()
  ch2.start()
  await ch2.connected(2_000)
  await s2.connected()
  await ch2.close()
  await ch2.close()
  const before = s2.connections
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal(s2.connections, before, 'no reconnect after close')
  t.equal(ch2.state, 'closed')
  await t.rejects(ch2.connected(1_000), /the channel is closed/)
})

test('connect timeout: a TLS peer that never completes the handshake fails the attempt in time', async (t) => {
  // A plain TCP server that accepts and says nothing: the TLS handshake hangs.
  const silent = createServer(() => {})
  silent.listen(0, '127.0.0.1')
  await once(silent, 'listening')
  t.after(() => { silent.close() })
  const { port } = silent.address() as AddressInfo
  const { ch } = channel(t, { kind: 'tcp', host: '127.0.0.1', port, tls: true }, { connectTimeout: 100, reconnect: { initialDelay: 5, maxDelay: 5, maxAttempts: 1 } })
  ch.start()
  await t.rejects(ch.connected(5_000), /the channel is failed \(no connection within 100 ms\)/)
})

test('connected() times out naming the last error', async (t) => {
  const s = await server(t)
  const target = targetOf(s)
  await s.close()
  const { ch } = channel(t, target, { reconnect: { initialDelay: 20, maxDelay: 20, maxAttempts: 1000 } })
  ch.start()
  await t.rejects(ch.connected(150), /not connected within 150 ms \(last error: .*ECONNREFUSED/)
})

test('breaker: failed writes open it (frames fail over), it half-opens after halfOpenAfter and a good write closes it', async (t) => {
  const s = await server(t)
  const { ch, log } = channel(t, targetOf(s), { breaker: { threshold: 2, halfOpenAfter: 200 }, reconnect: { initialDelay: 5, maxDelay: 5, maxAttempts: 100 } })
  ch.start()
  await ch.connected(2_000)
  await s.connected()
  const lost: string[] = []
  // Written then destroyed in the same tick: the corked frames never reach the OS.
  t.ok(ch.send(encodeModuleEnvelope({ op: 'heartbeat_ack' }), (err) => lost.push(err.message)))
  t.ok(ch.send(encodeModuleEnvelope({ op: 'heartbeat_ack' }), (err) => lost.push(err.message)))
  ch.connection?.destroy()
  await until(() => lost.length === 2)
  t.equal(ch.stats().breaker, 'open')
  t.ok(log.entries().some((e) => e.msg === 'channel circuit breaker opened: writes fail over to other channels'))
  await ch.connected(2_000)
  t.notOk(ch.usable, 'connected again, but the breaker keeps it out')
  t.notOk(ch.send(encodeModuleEnvelope({ op: 'heartbeat_ack' })))
  await until(() => ch.usable, 2_000)
  await until(() => s.socket !== null)
  t.ok(ch.send(encodeModuleEnvelope({ op: 'heartbeat_ack' })), 'the trial write')
  await until(() => ch.stats().breaker === 'closed')
  await until(() => s.received.length === 1)
  t.ok(log.entries().some((e) => e.msg === 'channel circuit breaker closed'))
})

test('identify is sent after every connect only when opted in', async (t) => {
  const s = await server(t)
  const raw: Buffer[] = []
  s.once('connection', (socket: Socket) => socket.on('data', (chunk: Buffer) => raw.push(chunk)))
  const { ch } = channel(t, targetOf(s), { identifyAs: 'mod-1' })
  ch.start()
  await ch.connected(2_000)
  await until(() => readFrame(Buffer.concat(raw)) !== undefined)
  const frame = readFrame(Buffer.concat(raw))
  const envelope = JSON.parse(frame?.payload.toString() ?? '')
  t.same(envelope.content, { op: 'identify', module_id: 'mod-1' }, 'the enveloped shape docs/protocol.md §4.4 names')
  t.match(envelope.id, /^[0-9a-f-]{36}$/)
  const s2 = await server(t)
  const { ch: quiet } = channel(t, targetOf(s2))
  quiet.start()
  await quiet.connected(2_000)
  await s2.connected()
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(s2.received.length, 0, 'nothing is sent on connect by default (docs/protocol.md §4.4)')
})

test('a peer that stops reading pauses the channel\'s reading until it drains', async (t) => {
  const s = await server(t)
  const { ch, messages } = channel(t, targetOf(s), { highWaterBytes: 1024 })
  ch.start()
  await ch.connected(2_000)
  const peer = await s.connected()
  peer.pause()
  const big = encodeEnvelope({ op: 'heartbeat_ack', pad: 'x'.repeat(4096) })
  for (let i = 0; i < 5_000; i++) ch.send(big)
  await new Promise((resolve) => setImmediate(resolve))
  t.ok((ch.connection?.writableLength ?? 0) > 1024, 'bytes are queued')
  t.equal(ch.connection?.isPaused(), true, 'reading stops')
  peer.resume()
  await once(ch.connection as NonNullable<typeof ch.connection>, 'drain')
  await until(() => ch.connection?.isPaused() === false)
  s.send({ op: 'heartbeat' })
  await until(() => messages.length === 1)
  t.pass('reading resumed after the drain')
})

test('tls_enabled: the channel speaks TLS and checks the server certificate', async (t) => {
  // A self-signed test certificate for 127.0.0.1, valid until 2126 (test/fixtures/tls).
  const key = readFileSync(new URL('../fixtures/tls/key.pem', import.meta.url))
  const cert = readFileSync(new URL('../fixtures/tls/cert.pem', import.meta.url))
  const received: Buffer[] = []
  const server = createTlsServer({ key, cert }, (socket) => {
    socket.on('data', (chunk: Buffer) => received.push(chunk))
    socket.on('error', () => {})
    socket.write(encodeFrame('{"op":"heartbeat"}'))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => { server.close() })
  const { port } = server.address() as AddressInfo
  const target: ChannelTarget = { kind: 'tcp', host: '127.0.0.1', port, tls: true }

  const { ch, messages } = channel(t, target, { tls: { ca: cert } })
  ch.start()
  await ch.connected(2_000)
  await until(() => messages.length === 1)
  t.equal(messages[0]?.op, 'heartbeat')
  ch.send(encodeModuleEnvelope({ op: 'heartbeat_ack' }))
  await until(() => readFrame(Buffer.concat(received)) !== undefined)
  t.equal(JSON.parse(readFrame(Buffer.concat(received))?.payload.toString() ?? '').content.op, 'heartbeat_ack')

  const { ch: untrusting } = channel(t, target, { reconnect: { initialDelay: 5, maxDelay: 5, maxAttempts: 1 } })
  untrusting.start()
  await t.rejects(untrusting.connected(5_000), /self[- ]signed certificate/, 'without the CA the server is not trusted')
})

test('a peer that half-closes (FIN) is treated as gone: the channel reconnects', async (t) => {
  const s = await server(t)
  const { ch } = channel(t, targetOf(s))
  ch.start()
  await ch.connected(2_000)
  const first = await s.connected()
  first.end()
  await until(() => ch.stats().reconnects === 1)
  t.equal(ch.state, 'connected')
})
