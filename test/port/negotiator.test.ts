import t from 'tap'
import { PortNegotiator, type PortNegotiatorOptions, type PortRequest, type PortResponse } from '../../lib/port/negotiator.js'
import { until } from '../helpers/fake-orchestrator.js'
import { captureLogger } from '../helpers/log-capture.js'

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

function harness (opts: Partial<PortNegotiatorOptions> = {}) {
  const sent: PortRequest[] = []
  const log = captureLogger()
  const negotiator = new PortNegotiator({ send: (m) => { sent.push(m) }, log: log.logger, timeouts: [50, 60, 70], ...opts })
  const reply = (requestId: string, success: boolean, port: number, errorMessage?: string): void => {
    const response: PortResponse = { op: 'port_response', request_id: requestId, success, port }
    if (errorMessage !== undefined) response.error_message = errorMessage
    negotiator.receive(response)
  }
  const warned = (pattern: RegExp): boolean => log.entries().some((e) => e.level === 40 && pattern.test(e.msg))
  return { negotiator, sent, log, reply, warned }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

t.test('success: one port_request with a fresh UUID v4, resolved with the granted port', async (t) => {
  const { negotiator, sent, reply } = harness({ timeouts: [5000] })
  const granted = negotiator.negotiate()
  t.equal(sent.length, 1)
  const [request] = sent as [PortRequest]
  t.match(request.request_id, UUID_V4)
  t.equal(request.op, 'port_request')
  t.equal(request.specific_port, undefined, 'no specific port: encoded as null')
  t.equal(negotiator.pending, 1)
  reply(request.request_id, true, 4102)
  t.equal(await granted, 4102)
  t.equal(negotiator.pending, 0)

  const second = negotiator.negotiate(8123)
  const next = sent[1] as PortRequest
  t.not(next.request_id, request.request_id, 'every negotiation has its own id')
  t.equal(next.specific_port, 8123)
  reply(next.request_id, true, 8123)
  t.equal(await second, 8123)
})

t.test('success with port 0 is a failure', async (t) => {
  const { negotiator, sent, reply } = harness()
  const granted = negotiator.negotiate()
  reply((sent[0] as PortRequest).request_id, true, 0)
  await t.rejects(granted, { code: 'FST_PYWATT_PORT_NEGOTIATION', reason: 'invalid-port', message: /port 0/ })
})

t.test('success:false fails at once with the orchestrator\'s message, without a retry', async (t) => {
  const { negotiator, sent, reply } = harness()
  const granted = negotiator.negotiate(9000)
  reply((sent[0] as PortRequest).request_id, false, 0, 'port 9000 is reserved')
  await t.rejects(granted, { code: 'FST_PYWATT_PORT_NEGOTIATION', reason: 'refused', message: /refused port 9000: port 9000 is reserved/ })
  await sleep(200)
  t.equal(sent.length, 1, 'the orchestrator said no: nothing is asked again')

  const noReason = negotiator.negotiate()
  reply((sent[1] as PortRequest).request_id, false, 0)
  await t.rejects(noReason, { code: 'FST_PYWATT_PORT_NEGOTIATION', reason: 'refused', message: /refused: no reason given/ })
})

t.test('timeouts: one attempt per timeout, a new id each time, the requested port kept, then a timeout error', async (t) => {
  const { negotiator, sent, warned } = harness()
  const granted = negotiator.negotiate(8123)
  await t.rejects(granted, { code: 'FST_PYWATT_PORT_NEGOTIATION', reason: 'timeout', message: /after 3 attempts \(timeouts 50, 60, 70 ms\)/ })
  t.equal(sent.length, 3)
  t.equal(new Set(sent.map((m) => m.request_id)).size, 3, 'three distinct request ids')
  for (const m of sent) {
    t.match(m.request_id, UUID_V4)
    t.equal(m.specific_port, 8123, 'a retry asks for the same port, never a random one')
  }
  t.ok(warned(/no port_response in time/))
  await sleep(100)
  t.equal(sent.length, 3, 'nothing more after the last attempt')

  const custom = harness({ timeouts: [20, 20, 20, 20, 20] })
  await t.rejects(custom.negotiator.negotiate(), { code: 'FST_PYWATT_PORT_NEGOTIATION', reason: 'timeout', message: /after 5 attempts/ })
  t.equal(custom.sent.length, 5, 'the schedule length is the number of attempts')
  t.ok(custom.sent.every((m) => m.specific_port === undefined), 'no port requested stays no port requested')
})

t.test('a retry is answered in time: the negotiation succeeds', async (t) => {
  const { negotiator, sent, reply } = harness()
  const granted = negotiator.negotiate()
  await until(() => sent.length === 2)
  reply((sent[1] as PortRequest).request_id, true, 5555)
  t.equal(await granted, 5555)
  await sleep(100)
  t.equal(sent.length, 2, 'no third attempt once settled')
})

t.test('a late reply for an earlier attempt settles the negotiation; replies after that are logged and ignored', async (t) => {
  const { negotiator, sent, reply, warned } = harness()
  const granted = negotiator.negotiate()
  await until(() => sent.length === 2)
  const [first, second] = sent as [PortRequest, PortRequest]
  reply(first.request_id, true, 7001)
  t.equal(await granted, 7001, 'the first attempt\'s port was allocated for this module: it wins')
  reply(second.request_id, true, 7002)
  t.ok(warned(/matches no waiting port_request/), 'the answer to the retry is logged')
  t.equal(negotiator.pending, 0)
  await sleep(100)
  t.equal(sent.length, 2, 'no third attempt')
})

t.test('a late refusal for an earlier attempt also settles it', async (t) => {
  const { negotiator, sent, reply } = harness()
  const granted = negotiator.negotiate(8200)
  await until(() => sent.length === 2)
  reply((sent[0] as PortRequest).request_id, false, 0, 'taken')
  await t.rejects(granted, { code: 'FST_PYWATT_PORT_NEGOTIATION', reason: 'refused', message: /taken/ })
})

t.test('an unknown request_id is logged and ignored; an unsolicited reply never sets a port', async (t) => {
  const { negotiator, sent, reply, warned } = harness({ timeouts: [5000] })
  reply('0b7e1c7a-6a55-4d6f-9a3e-2f9d8c7b6a51', true, 6666)
  t.ok(warned(/matches no waiting port_request/))
  const granted = negotiator.negotiate()
  t.equal(sent.length, 1, 'the unsolicited port is not reused: a request is sent')
  let settled = false
  granted.then(() => { settled = true }, () => { settled = true })
  reply('f7a6e9d2-5b1c-4e3f-8a2b-1c0d9e8f7a6b', true, 6667)
  reply('not-a-uuid', true, 6668)
  await sleep(20)
  t.equal(settled, false, 'replies for other ids do not settle it')
  t.equal(negotiator.pending, 1)
  reply((sent[0] as PortRequest).request_id.toUpperCase(), true, 6000)
  t.equal(await granted, 6000, 'the same UUID in another case is the same id')
})

t.test('"auto-assigned" answers the one negotiation waiting, and only when there is exactly one', async (t) => {
  const { negotiator, reply, warned } = harness({ timeouts: [5000] })
  reply('auto-assigned', true, 4000)
  t.ok(warned(/cannot be attributed/), 'nothing waiting: ignored')

  const one = negotiator.negotiate()
  reply('auto-assigned', true, 4001)
  t.equal(await one, 4001)

  const a = negotiator.negotiate()
  const b = negotiator.negotiate()
  reply('auto-assigned', true, 4002)
  t.equal(negotiator.pending, 2, 'two waiting: ambiguous, ignored')
  negotiator.close('test over')
  await t.rejects(a, { code: 'FST_PYWATT_PORT_NEGOTIATION', reason: 'closed' })
  await t.rejects(b, { code: 'FST_PYWATT_PORT_NEGOTIATION', reason: 'closed' })
})

t.test('a port other than the one requested is used, with a warning', async (t) => {
  const { negotiator, sent, reply, warned } = harness()
  const granted = negotiator.negotiate(8000)
  reply((sent[0] as PortRequest).request_id, true, 8001)
  t.equal(await granted, 8001)
  t.ok(warned(/another port than the one requested/))
})

t.test('invalid requested ports, send failures and close', async (t) => {
  const { negotiator, sent } = harness()
  for (const bad of [0, -1, 65536, 1.5, Number.NaN]) {
    await t.rejects(negotiator.negotiate(bad), { code: 'FST_PYWATT_PORT_NEGOTIATION', reason: 'invalid-request' }, String(bad))
  }
  t.equal(sent.length, 0)

  const broken = new PortNegotiator({ send: () => { throw new Error('write EPIPE') }, log: captureLogger().logger, timeouts: [5000] })
  await t.rejects(broken.negotiate(), { code: 'FST_PYWATT_PORT_NEGOTIATION', reason: 'send-failed', message: /EPIPE/ })
  t.equal(broken.pending, 0, 'no timer left behind')

  const waiting = negotiator.negotiate()
  negotiator.close()
  await t.rejects(waiting, { code: 'FST_PYWATT_PORT_NEGOTIATION', reason: 'closed', message: /shutting down/ })
  await t.rejects(negotiator.negotiate(), { code: 'FST_PYWATT_PORT_NEGOTIATION', reason: 'closed' })
  t.equal(sent.length, 1, 'nothing is sent once closed')
})

t.test('circuit breaker: opens after N failed negotiations, fails fast, half-opens, closes on success, reopens on failure', async (t) => {
  const { negotiator, sent, reply, log } = harness({ timeouts: [5000], threshold: 2, halfOpenAfter: 150 })
  const refuse = async (): Promise<void> => {
    const p = negotiator.negotiate()
    reply((sent.at(-1) as PortRequest).request_id, false, 0, 'no')
    await t.rejects(p, { code: 'FST_PYWATT_PORT_NEGOTIATION', reason: 'refused' })
  }
  t.equal(negotiator.breakerState, 'closed')
  await refuse()
  t.equal(negotiator.breakerState, 'closed', 'one failure is under the threshold')
  await refuse()
  t.equal(negotiator.breakerState, 'open')
  t.ok(log.entries().some((e) => /circuit breaker opened/.test(e.msg)))

  const before = sent.length
  await t.rejects(negotiator.negotiate(), { code: 'FST_PYWATT_PORT_NEGOTIATION', reason: 'circuit-open', message: /2 failed negotiations in a row/ })
  t.equal(sent.length, before, 'open: nothing is sent')

  await sleep(200)
  const probe = negotiator.negotiate()
  t.equal(negotiator.breakerState, 'half-open')
  t.equal(sent.length, before + 1, 'half-open: one negotiation goes through')
  reply((sent.at(-1) as PortRequest).request_id, false, 0, 'still no')
  await t.rejects(probe, { code: 'FST_PYWATT_PORT_NEGOTIATION', reason: 'refused' })
  t.equal(negotiator.breakerState, 'open', 'a failed try reopens it')
  await t.rejects(negotiator.negotiate(), { code: 'FST_PYWATT_PORT_NEGOTIATION', reason: 'circuit-open' })

  await sleep(200)
  const recovered = negotiator.negotiate(3333)
  reply((sent.at(-1) as PortRequest).request_id, true, 3333)
  t.equal(await recovered, 3333)
  t.equal(negotiator.breakerState, 'closed', 'a successful try closes it')
  await refuse()
  t.equal(negotiator.breakerState, 'closed', 'and the failure count starts again')
})

t.test('breakers are per negotiator, not process-global', async (t) => {
  const a = harness({ timeouts: [5000], threshold: 1 })
  const p = a.negotiator.negotiate()
  a.reply((a.sent[0] as PortRequest).request_id, false, 0)
  await t.rejects(p)
  t.equal(a.negotiator.breakerState, 'open')
  const b = harness({ timeouts: [5000], threshold: 1 })
  t.equal(b.negotiator.breakerState, 'closed')
  const q = b.negotiator.negotiate()
  b.reply((b.sent[0] as PortRequest).request_id, true, 2222)
  t.equal(await q, 2222)
})

t.test('defaults: the Rust schedule and breaker', async (t) => {
  const { PORT_NEGOTIATION_DEFAULTS } = await import('../../lib/port/options.js')
  t.same(PORT_NEGOTIATION_DEFAULTS, { timeouts: [3000, 4000, 5000], threshold: 5, halfOpenAfter: 60_000 })
  const sent: PortRequest[] = []
  const n = new PortNegotiator({ send: (m) => { sent.push(m) }, log: captureLogger().logger })
  for (let i = 0; i < 5; i++) {
    t.equal(n.breakerState, 'closed', `still closed after ${i} failures`)
    const p = n.negotiate()
    n.receive({ op: 'port_response', request_id: (sent.at(-1) as PortRequest).request_id, success: false, port: 0 })
    await t.rejects(p, { code: 'FST_PYWATT_PORT_NEGOTIATION', reason: 'refused' })
  }
  t.equal(n.breakerState, 'open', 'open after 5')
  await t.rejects(n.negotiate(), { code: 'FST_PYWATT_PORT_NEGOTIATION', reason: 'circuit-open', message: /5 failed negotiations in a row.*60000 ms after opening/ })
})
