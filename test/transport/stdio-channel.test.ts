import t from 'tap'
import { DEFAULT_LIMITS, StdioChannel } from '../../lib/transport/stdio-channel.js'
import type { HttpRequestMessage } from '../../lib/protocol/index.js'
import { FakeOrchestrator, until } from '../helpers/fake-orchestrator.js'
import { captureLogger } from '../helpers/log-capture.js'

const body = Array.from({ length: 4096 }, (_, i) => (i * 13) & 0xff)

async function ready (): Promise<{ orch: FakeOrchestrator, channel: StdioChannel, log: ReturnType<typeof captureLogger> }> {
  const orch = new FakeOrchestrator()
  const log = captureLogger()
  const channel = new StdioChannel(orch.input, orch.output, DEFAULT_LIMITS, log.logger)
  const init = channel.readInit()
  orch.init()
  await init
  return { orch, channel, log }
}

t.test('a large http_request is read from its bytes, split across chunks, and dispatched once', async (t) => {
  const { orch, channel } = await ready()
  const seen: HttpRequestMessage[] = []
  channel.router.on('http_request', (m) => { seen.push(m) })
  const line = Buffer.from(`{"op":"http_request","request_id":"big","method":"POST","uri":"/echo","headers":{"x":"é"},"body":[${body.join(',')}]}\n`)
  for (let i = 0; i < line.length; i += 1000) orch.input.write(line.subarray(i, i + 1000))
  await until(() => seen.length === 1)
  t.same([...(seen[0]?.body ?? [])], body)
  t.equal(seen[0]?.headers.x, 'é')
  t.same({ lines: channel.stats.lines, dispatched: channel.stats.dispatched, malformed: channel.stats.malformed }, { lines: 2, dispatched: 1, malformed: 0 }, 'the Init line and this one')
})

t.test('a large line the byte path cannot take is judged as text: malformed lines are reported as before', async (t) => {
  const { orch, channel, log } = await ready()
  const invalid: string[] = []
  channel.on('invalid', (line: string) => invalid.push(line))
  orch.write(`{"op":"http_request","request_id":"bad","method":"POST","uri":"/","headers":{},"body":[${body.join(',')},256]}`)
  orch.input.write(Buffer.concat([Buffer.from('{"op":"http_request","request_id":"'), Buffer.from([0xfe]), Buffer.from(`","method":"POST","uri":"/","headers":{},"body":[${body.join(',')}]}\n`)]))
  await until(() => channel.stats.invalidUtf8 === 1)
  t.equal(channel.stats.malformed, 1)
  t.match(invalid[0], /"request_id":"bad"/, 'the text reaches the consumer that owes a 400')
  t.ok(log.entries().some((e) => e.msg === 'skipped a protocol line that is not valid UTF-8'))
})

t.test('a consumer that throws, of a message or of an event, is logged and counted; reading goes on', async (t) => {
  const { orch, channel, log } = await ready()
  channel.on('invalid', () => { throw new Error('invalid consumer bug') })
  const beats: number[] = []
  channel.router.on('heartbeat', () => {
    beats.push(beats.length)
    if (beats.length === 1) throw new Error('heartbeat consumer bug')
  })
  channel.on('eof', () => { throw new Error('eof consumer bug') })
  orch.write('null')
  orch.write('{"op":"heartbeat"}')
  orch.write('{"op":"heartbeat"}')
  await until(() => beats.length === 2)
  orch.input.end()
  await until(() => channel.ended)
  t.same(log.entries().filter((e) => e.msg === 'a protocol message handler threw').map((e) => [e.event ?? e.op, e.err.message]), [
    ['invalid', 'invalid consumer bug'],
    ['heartbeat', 'heartbeat consumer bug'],
    ['eof', 'eof consumer bug']
  ])
  t.equal(channel.stats.handlerErrors, 3)
})
