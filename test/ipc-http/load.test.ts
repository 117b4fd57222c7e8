import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import pywatt, { type PyWattOptions } from '../../plugins/index.js'
import ipcHttp, { type IpcHttpOptions } from '../../plugins/ipc-http.js'
import metrics from '../../plugins/metrics.js'
import { FakeOrchestrator, type Line, until } from '../helpers/fake-orchestrator.js'
import { captureLogger } from '../helpers/log-capture.js'

async function boot (t: Test, opts: IpcHttpOptions, routes: (app: FastifyInstance) => void | Promise<void>, root: Partial<PyWattOptions> = { health: false }) {
  const orch = new FakeOrchestrator()
  const log = captureLogger()
  const app = Fastify({ loggerInstance: log.logger })
  t.after(() => app.close())
  orch.init({ module_id: 'load-test' })
  await app.register(pywatt, { io: orch.io, ...root })
  await app.register(ipcHttp, opts)
  await routes(app)
  await app.ready()
  return { orch, log, app }
}

function request (orch: FakeOrchestrator, id: string, uri: string, fields: Record<string, unknown> = {}): void {
  orch.send({ op: 'http_request', request_id: id, method: 'GET', uri, headers: {}, ...fields })
}

const replies = (orch: FakeOrchestrator, id: string): Line[] => orch.lines.filter((l) => l.content?.request_id === id)
const reply = async (orch: FakeOrchestrator, id: string): Promise<Line> => await orch.waitFor((l) => l.content?.request_id === id)
const body = (l: Line): { error?: string } => JSON.parse(Buffer.from(l.content.body as number[]).toString())

function deferred (): { promise: Promise<void>, resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>((_resolve) => { resolve = _resolve })
  return { promise, resolve }
}

for (const dispatcher of ['lean', 'inject'] as const) {
  t.test(`${dispatcher}: a hung route is answered 504, its slot freed, its late reply dropped`, async (t) => {
    const stopped = deferred()
    const release = deferred()
    let reason: unknown
    const { orch, app } = await boot(t, { dispatcher, concurrency: 1, requestTimeout: 100 }, (app) => {
      app.get('/hang', async (req) => {
        // The module's own work, cancellable through request.signal.
        await Promise.race([
          release.promise,
          new Promise<void>((resolve) => req.signal.addEventListener('abort', () => {
            reason = req.signal.reason
            resolve()
          }))
        ])
        stopped.resolve()
        return { late: true }
      })
      app.get('/fast', async () => ({ fast: true }))
    })
    request(orch, 'hung', '/hang')
    request(orch, 'next', '/fast')
    const timedOut = await reply(orch, 'hung')
    t.equal(timedOut.content.status_code, 504)
    t.match(body(timedOut).error, /did not answer within 100 ms/)
    const next = await reply(orch, 'next')
    t.equal(next.content.status_code, 200, 'the one slot was freed for the waiting request')
    if (dispatcher === 'lean') {
      await stopped.promise
      t.ok(reason !== undefined, 'request.signal aborted the handler')
    } else {
      // light-my-request's request cannot be closed once read: the handler is not told.
      t.equal(reason, undefined)
      release.resolve()
      await stopped.promise
    }
    // Replies are written in order: past this one, a late reply for 'hung' would already be here.
    request(orch, 'after', '/fast')
    await reply(orch, 'after')
    t.equal(replies(orch, 'hung').length, 1, 'one reply for the timed-out id')
    t.equal(app.pywatt.ipcHttp?.timedOut, 1)
    t.equal(app.pywatt.ipcHttp?.served, 2)
  })
}

t.test('requestTimeout 0 waits as long as the route takes', async (t) => {
  const started = deferred()
  const release = deferred()
  const { orch } = await boot(t, { requestTimeout: 0 }, (app) => {
    app.get('/slow', async () => {
      started.resolve()
      await release.promise
      return { done: true }
    })
  })
  request(orch, 'slow', '/slow')
  await started.promise
  // Past the default bound of other tests' timeouts, and no answer: nothing was armed.
  await new Promise((resolve) => setTimeout(resolve, 150))
  t.same(replies(orch, 'slow'), [], 'not answered while running')
  release.resolve()
  t.equal((await reply(orch, 'slow')).content.status_code, 200)
})

t.test('a request body read does not abort request.signal: only a timeout or a close does', async (t) => {
  const { orch } = await boot(t, {}, (app) => {
    app.post('/later', async (req) => {
      await new Promise((resolve) => setTimeout(resolve, 20))
      return { aborted: req.signal.aborted, got: req.body }
    })
  })
  request(orch, 'post', '/later', { method: 'POST', headers: { 'content-type': 'application/json' }, body: [...Buffer.from('{"a":1}')] })
  const line = await reply(orch, 'post')
  t.same(body(line), { aborted: false, got: { a: 1 } })
})

t.test('a burst of 10x the capacity: the excess gets 503 with retry-after at once, the rest 200, each id answered once', async (t) => {
  const release = deferred()
  let started = 0
  const { orch, app } = await boot(t, { concurrency: 2, maxQueued: 3 }, (app) => {
    app.get('/work/:n', async (req) => {
      started++
      await release.promise
      return { n: (req.params as { n: string }).n }
    })
  })
  const ids = Array.from({ length: 50 }, (_, i) => `b${i}`)
  for (const id of ids) request(orch, id, `/work/${id}`)
  // 2 running + 3 waiting: the other 45 are refused before anything finishes.
  await until(() => orch.lines.filter((l) => l.content?.status_code === 503).length === 45)
  t.equal(started, 2)
  const refused = orch.lines.filter((l) => l.content?.status_code === 503)
  t.ok(refused.every((l) => l.content.headers['retry-after'] === '1'), 'each refusal says when to retry')
  t.match(body(refused[0] as Line).error, /at capacity/)
  release.resolve()
  await until(() => orch.lines.filter((l) => l.content?.status_code === 200).length === 5)
  const accepted = orch.lines.filter((l) => l.content?.status_code === 200).map((l) => l.content.request_id as string)
  t.same(accepted.sort(), ['b0', 'b1', 'b2', 'b3', 'b4'], 'the first five, in arrival order of acceptance')
  for (const id of ids) t.equal(replies(orch, id).length, 1, `${id} answered once`)
  t.equal(app.pywatt.ipcHttp?.shed, 45)
  // Capacity is back: a new request is served.
  request(orch, 'again', '/work/again')
  t.equal((await reply(orch, 'again')).content.status_code, 200)
})

t.test('a stalled event loop sheds new requests with 503 on /health\'s threshold, and takes them again once it recovers', async (t) => {
  const { orch, app } = await boot(t, {}, (app) => {
    app.get('/ok', async () => ({ ok: true }))
  }, { health: { maxEventLoopDelay: 50 } })
  request(orch, 'before', '/ok')
  t.equal((await reply(orch, 'before')).content.status_code, 200)
  // The monitor's first sample is taken after a full loop turn: a stall before it goes unseen.
  await new Promise((resolve) => setTimeout(resolve, 30))
  const until_ = Date.now() + 300
  while (Date.now() < until_) { /* a handler hogging the loop */ }
  // Let the monitor's timer record the stall.
  await new Promise((resolve) => setTimeout(resolve, 30))
  request(orch, 'stalled', '/ok')
  const shed = await reply(orch, 'stalled')
  t.equal(shed.content.status_code, 503)
  t.equal(shed.content.headers['retry-after'], '1')
  t.match(body(shed).error, /overloaded/)
  const health = await app.inject('/health')
  t.equal(health.statusCode, 503, '/health reports the same stall')
  // The monitor forgets a stall after two one-second windows.
  let n = 0
  await until(() => {
    request(orch, `retry${n}`, '/ok')
    n++
    return orch.lines.some((l) => l.content?.status_code === 200 && String(l.content.request_id).startsWith('retry'))
  }, 5_000)
  t.pass('served again')
})

t.test('maxEventLoopDelay: 0 never sheds; a value of its own works with health: false', async (t) => {
  t.test('0', async (t) => {
    const { orch, app } = await boot(t, { maxEventLoopDelay: 0 }, (app) => { app.get('/ok', async () => ({ ok: true })) }, { health: { maxEventLoopDelay: 50 } })
    await new Promise((resolve) => setTimeout(resolve, 30))
    const until_ = Date.now() + 200
    while (Date.now() < until_) { /* stall */ }
    await new Promise((resolve) => setTimeout(resolve, 30))
    t.equal((await app.inject('/health')).statusCode, 503, 'the stall was seen')
    request(orch, 'x', '/ok')
    t.equal((await reply(orch, 'x')).content.status_code, 200)
  })
  t.test('own monitor', async (t) => {
    const { orch } = await boot(t, { maxEventLoopDelay: 50 }, (app) => { app.get('/ok', async () => ({ ok: true })) }, { health: false })
    await new Promise((resolve) => setTimeout(resolve, 30))
    const until_ = Date.now() + 200
    while (Date.now() < until_) { /* stall */ }
    await new Promise((resolve) => setTimeout(resolve, 30))
    request(orch, 'y', '/ok')
    t.equal((await reply(orch, 'y')).content.status_code, 503)
  })
})

t.test('bad options are refused by name', async (t) => {
  for (const [opts, name] of [[{ requestTimeout: -1 }, 'requestTimeout'], [{ maxQueued: 1.5 }, 'maxQueued'], [{ maxEventLoopDelay: 'x' }, 'maxEventLoopDelay']] as const) {
    const orch = new FakeOrchestrator()
    const app = Fastify()
    t.after(() => app.close())
    orch.init({ module_id: 'm' })
    await app.register(pywatt, { io: orch.io, health: false })
    await t.rejects(async () => { await app.register(ipcHttp, opts as never) }, { code: 'FST_PYWATT_INVALID_OPTIONS', message: new RegExp(`ipc-http ${name}`) })
  }
})

t.test('timeouts and refusals are counted in the metrics', async (t) => {
  const { orch, app } = await boot(t, { concurrency: 1, maxQueued: 0, requestTimeout: 50 }, async (app) => {
    await app.register(metrics, { defaultMetrics: false })
    app.get('/hang', async (req) => await new Promise((resolve) => req.signal.addEventListener('abort', () => resolve({}))))
  })
  request(orch, 'h', '/hang')
  request(orch, 'refused', '/hang')
  t.equal((await reply(orch, 'refused')).content.status_code, 503)
  t.equal((await reply(orch, 'h')).content.status_code, 504)
  const text = (await app.inject('/metrics')).body
  t.match(text, /pywatt_ipc_http_requests_total\{outcome="timed_out"\} 1\n/)
  t.match(text, /pywatt_ipc_http_requests_total\{outcome="shed"\} 1\n/)
})

t.test('requests that arrive before ipc-http registers wait within maxBufferedBytes; the rest are dropped and logged', async (t) => {
  const orch = new FakeOrchestrator()
  const log = captureLogger()
  const app = Fastify({ loggerInstance: log.logger })
  t.after(() => app.close())
  orch.init({ module_id: 'early' })
  await app.register(pywatt, { io: orch.io, health: false, maxBufferedBytes: 3_000 })
  const big = [...Buffer.alloc(500, 0x61)]
  // Each line is ~2 KB (a byte array of 500 bytes): the second does not fit.
  for (const id of ['e1', 'e2']) request(orch, id, '/echo', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: big })
  await until(() => log.entries().some((e) => e.msg === 'too many messages waiting for a consumer: message dropped'))
  await app.register(ipcHttp)
  app.post('/echo', async (req) => ({ length: (req.body as string).length }))
  await app.ready()
  t.same(body(await reply(orch, 'e1')), { length: 500 })
  t.equal(app.pywatt.channel?.router.bufferedBytes, 0)
  // Past a later reply, a reply for e2 would be here: it was dropped before anyone could answer.
  request(orch, 'e3', '/echo', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: big })
  await reply(orch, 'e3')
  t.same(replies(orch, 'e2'), [])
})
