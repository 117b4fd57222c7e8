import t, { type Test } from 'tap'
import { Readable } from 'node:stream'
import Fastify, { type FastifyInstance } from 'fastify'
import pywatt from '../../plugins/index.js'
import ipcHttp from '../../plugins/ipc-http.js'
import { FakeOrchestrator, type Line, until } from '../helpers/fake-orchestrator.js'
import { captureLogger } from '../helpers/log-capture.js'
import { HOSTILE_LINES } from '../helpers/hostile-lines.js'

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

async function boot (t: Test, opts: { concurrency?: number, drainTimeout?: number, dispatcher?: 'lean' | 'inject' } = {}, routes?: (app: FastifyInstance) => void) {
  const orch = new FakeOrchestrator()
  const log = captureLogger()
  const app = Fastify({ loggerInstance: log.logger })
  t.after(() => app.close())
  orch.init({ module_id: 'ipc-test' })
  await app.register(pywatt, { io: orch.io, health: false })
  await app.register(ipcHttp, opts)
  routes?.(app)
  return { orch, log, app }
}

function request (orch: FakeOrchestrator, id: string, fields: Record<string, unknown> = {}): void {
  orch.send({ op: 'http_request', request_id: id, method: 'GET', uri: '/', headers: {}, ...fields })
}

async function reply (orch: FakeOrchestrator, id: string): Promise<Line> {
  return await orch.waitFor((l) => l.content?.request_id === id)
}

const text = (l: Line): string => Buffer.from(l.content.body as number[]).toString()

for (const dispatcher of ['lean', 'inject'] as const) {
  t.test(`dispatcher: ${dispatcher}`, async (tt) => {
    tt.test('a GET is served by the real route; the reply is the exact wrapper (docs/protocol.md §9.2)', async (t) => {
      const { orch, app } = await boot(t, { dispatcher }, (app) => {
        app.get('/hello', async (req) => ({ hello: 'world', ip: req.ip, q: (req.query as { x?: string }).x }))
      })
      await app.ready()
      request(orch, 'req-1', { uri: '/hello?x=1', headers: { 'X-Forwarded-For': '203.0.113.7, 10.0.0.1' } })
      const line = await reply(orch, 'req-1')
      t.same(Object.keys(line).sort(), ['content', 'metadata'])
      t.same(Object.keys(line.content).sort(), ['body', 'headers', 'request_id', 'status_code'])
      t.equal(line.content.status_code, 200)
      t.same(JSON.parse(text(line)), { hello: 'world', ip: '10.0.0.1', q: '1' })
      t.equal(line.content.headers['content-type'], 'application/json; charset=utf-8')
      for (const name of Object.keys(line.content.headers)) t.equal(name, name.toLowerCase(), `${name} is lower-case`)
      t.match(line.metadata.id, UUID_V4)
      t.same(line.metadata.properties, { correlation_id: 'req-1' })
      t.equal(line.metadata.source, 'ipc-test')
      t.notOk('op' in line, 'no op in the wrapper')
    })

    tt.test('an empty body is []; any byte 0–255 round-trips both ways', async (t) => {
      const { orch, app } = await boot(t, { dispatcher }, (app) => {
        app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_req, body, done) => { done(null, body) })
        app.post('/echo', async (req, reply) => reply.type('application/octet-stream').send(req.body))
        app.delete('/nothing', async (_req, reply) => reply.code(204).send())
      })
      await app.ready()
      const all = Array.from({ length: 256 }, (_, i) => i)
      request(orch, 'bin', { method: 'POST', uri: '/echo', headers: { 'content-type': 'application/octet-stream', 'content-length': '3' }, body: [...all, ...all.reverse()] })
      request(orch, 'empty', { method: 'DELETE', uri: '/nothing' })
      const bin = await reply(orch, 'bin')
      t.same(bin.content.body, [...Array.from({ length: 256 }, (_, i) => i), ...Array.from({ length: 256 }, (_, i) => 255 - i)])
      t.equal(bin.content.headers['content-length'], '512', 'a stale content-length from the request is not trusted')
      const empty = await reply(orch, 'empty')
      t.equal(empty.content.status_code, 204)
      t.same(empty.content.body, [])
    })

    tt.test('a 16 MiB body works both ways', async (t) => {
      const { orch, app } = await boot(t, { dispatcher }, (app) => {
        app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: 32 * 1024 * 1024 }, (_req, body, done) => { done(null, body) })
        app.post('/echo', { bodyLimit: 32 * 1024 * 1024 }, async (req, reply) => reply.type('application/octet-stream').send(req.body))
      })
      await app.ready()
      const big = Buffer.alloc(16 * 1024 * 1024)
      for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff
      orch.write(`{"op":"http_request","request_id":"big","method":"POST","uri":"/echo","headers":{"content-type":"application/octet-stream"},"body":[${big.join(',')}]}`)
      const line = await orch.waitFor((l) => l.content?.request_id === 'big', 60_000)
      t.equal(line.content.status_code, 200)
      t.ok(Buffer.from(line.content.body as number[]).equals(big), 'byte-identical')
    })

    tt.test('errors: a throwing handler is 500, validation 400, a bad request line 400, the module goes on', async (t) => {
      const { orch, app, log } = await boot(t, { dispatcher }, (app) => {
        app.get('/boom', async () => { throw new Error('handler failure') })
        app.post('/typed', { schema: { body: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } } } }, async () => ({ ok: true }))
        app.get('/ok', async () => ({ ok: true }))
      })
      await app.ready()
      request(orch, 'boom', { uri: '/boom' })
      request(orch, 'typed', { method: 'POST', uri: '/typed', headers: { 'content-type': 'application/json' }, body: [...Buffer.from('{"n":"x"}')] })
      request(orch, 'lower', { method: 'get', uri: '/ok' })
      request(orch, 'nouri', { uri: 'ok' })
      orch.write('{"op":"http_request","request_id":"strbody","method":"POST","uri":"/ok","headers":{},"body":"hi"}')
      orch.write('{"op":"http_request","request_id":"noheaders","method":"GET","uri":"/ok"}')
      orch.write('{"op":"http_request","request_id":"bigbyte","method":"GET","uri":"/ok","headers":{},"body":[256]}')
      orch.write('{"op":"http_request","request_id":42,"method":"GET","uri":"/ok"}')
      orch.write('{"op":"http_request","method":"GET","uri":"/ok","headers":{}}')
      request(orch, 'after', { uri: '/ok' })
      t.equal((await reply(orch, 'boom')).content.status_code, 500)
      t.equal((await reply(orch, 'typed')).content.status_code, 400)
      for (const id of ['lower', 'nouri', 'strbody', 'noheaders', 'bigbyte']) {
        const line = await reply(orch, id)
        t.equal(line.content.status_code, 400, id)
        t.match(JSON.parse(text(line)).error, /\S/, `${id} names the problem`)
      }
      t.equal((await reply(orch, 'after')).content.status_code, 200)
      t.equal(orch.lines.filter((l) => l.content !== undefined).length, 8, 'an id that cannot be read gets no reply')
      t.equal(app.pywatt.ipcHttp?.badRequest, 5)
      t.ok(log.entries().some((e) => /malformed protocol line/.test(e.msg)))
    })

    tt.test('T13 a duplicate in-flight request_id is ignored; the first is answered once; the id is reusable after', async (t) => {
      let calls = 0
      const { orch, app, log } = await boot(t, { dispatcher }, (app) => {
        app.get('/slow', async () => { calls++; await new Promise((resolve) => setTimeout(resolve, 100)); return { calls } })
      })
      await app.ready()
      request(orch, 'X', { uri: '/slow' })
      request(orch, 'X', { uri: '/slow' })
      await reply(orch, 'X')
      await new Promise((resolve) => setTimeout(resolve, 150))
      t.equal(orch.lines.filter((l) => l.content?.request_id === 'X').length, 1)
      t.equal(calls, 1)
      t.ok(log.entries().some((e) => /already in flight/.test(e.msg)))
      request(orch, 'X', { uri: '/slow' })
      await until(() => orch.lines.filter((l) => l.content?.request_id === 'X').length === 2)
      t.equal(calls, 2)
    })

    tt.test('concurrency is capped; waiting requests start in arrival order', async (t) => {
      let running = 0
      let peak = 0
      const started: string[] = []
      const { orch, app } = await boot(t, { dispatcher, concurrency: 2 }, (app) => {
        app.get('/work/:id', async (req) => {
          started.push((req.params as { id: string }).id)
          running++
          peak = Math.max(peak, running)
          await new Promise((resolve) => setTimeout(resolve, 30))
          running--
          return { ok: true }
        })
      })
      await app.ready()
      for (let i = 0; i < 7; i++) request(orch, `c${i}`, { uri: `/work/${i}` })
      for (let i = 0; i < 7; i++) await reply(orch, `c${i}`)
      t.equal(peak, 2)
      t.same(started, ['0', '1', '2', '3', '4', '5', '6'])
    })

    tt.test('requests that arrive before the app is ready wait for it (and for routes declared later)', async (t) => {
      const orch = new FakeOrchestrator()
      const app = Fastify()
      t.after(() => app.close())
      orch.input.write(JSON.stringify({ orchestrator_api: 'x', module_id: 'm', env: {}, listen: '127.0.0.1:0' }) + '\n' +
        '{"op":"http_request","request_id":"early","method":"GET","uri":"/late-route","headers":{}}\n')
      await app.register(pywatt, { io: orch.io })
      await app.register(ipcHttp, { dispatcher })
      await new Promise((resolve) => setTimeout(resolve, 20))
      t.same(orch.lines.filter((l) => l.content !== undefined), [], 'not served before ready')
      app.get('/late-route', async () => ({ late: true }))
      await app.ready()
      const line = await reply(orch, 'early')
      t.same(JSON.parse(text(line)), { late: true })
    })

    tt.test('headers: hop-by-hop dropped, set-cookie values combined', async (t) => {
      const { orch, app } = await boot(t, { dispatcher }, (app) => {
        app.get('/h', async (req, reply) => {
          reply.header('set-cookie', ['a=1; Path=/', 'b=2; HttpOnly'])
          reply.header('X-Custom', 'v')
          return { connection: req.headers.connection ?? null, te: req.headers.te ?? null, kept: req.headers['x-kept'] ?? null }
        })
      })
      await app.ready()
      request(orch, 'h', { uri: '/h', headers: { Connection: 'keep-alive, x-kept', TE: 'trailers', 'X-Kept': 'yes' } })
      const line = await reply(orch, 'h')
      t.same(JSON.parse(text(line)), { connection: null, te: null, kept: 'yes' })
      t.equal(line.content.headers['set-cookie'], 'a=1; Path=/, b=2; HttpOnly')
      t.equal(line.content.headers['x-custom'], 'v')
    })

    tt.test('a reply header Node would refuse is refused as over HTTP: 500, the header not sent, the module goes on', async (t) => {
      const { orch, app, log } = await boot(t, { dispatcher }, (app) => {
        app.get('/crlf', async (_req, reply) => { reply.header('location', '/\r\nSet-Cookie: x=1'); return { ok: true } })
        app.get('/nul', async (_req, reply) => { reply.header('x-v', 'a\u0000b'); return { ok: true } })
        // Beyond latin1, so Node refuses it too: it never reaches the encoder.
        app.get('/surrogate', async (_req, reply) => { reply.header('x-v', '\ud800'); return { ok: true } })
        app.get('/name', async (_req, reply) => { reply.header('x v', 'a'); return { ok: true } })
        app.get('/raw', (_req, reply) => {
          reply.hijack()
          try {
            reply.raw.setHeader('x-raw', 'a\nb')
          } catch (err) {
            reply.raw.writeHead(500, { 'x-refused': (err as { code: string }).code })
          }
          reply.raw.end()
        })
        app.get('/ok', async () => ({ ok: true }))
      })
      await app.ready()
      for (const id of ['crlf', 'nul', 'surrogate', 'name', 'raw', 'ok']) request(orch, id, { uri: `/${id}` })
      for (const id of ['crlf', 'nul', 'surrogate', 'name']) {
        const line = await reply(orch, id)
        t.equal(line.content.status_code, 500, id)
        t.notOk(['location', 'set-cookie', 'x-v', 'x v'].some((h) => h in line.content.headers), `${id}: the route's header is not sent`)
        t.notOk(text(line).includes('Set-Cookie') || text(line).includes('\u0000'), `${id}: the value is not echoed`)
      }
      t.equal((await reply(orch, 'raw')).content.headers['x-refused'], 'ERR_INVALID_CHAR', 'reply.raw.setHeader throws as Node\'s does')
      t.equal((await reply(orch, 'ok')).content.status_code, 200)
      t.ok(log.entries().some((e) => e.level === 50 && /Invalid character in header content \["location"\]/.test(e.err?.message)), 'logged')
    })

    tt.test('hop-by-hop reply headers are dropped', async (t) => {
      const { orch, app } = await boot(t, { dispatcher }, (app) => {
        app.get('/hop', async (_req, reply) => {
          reply.headers({ connection: 'close', 'keep-alive': 'timeout=5', upgrade: 'websocket', 'proxy-authenticate': 'Basic', te: 'trailers', 'transfer-encoding': 'chunked', 'x-kept': 'yes' })
          return 'body'
        })
      })
      await app.ready()
      request(orch, 'hop', { uri: '/hop' })
      const line = await reply(orch, 'hop')
      t.equal(line.content.status_code, 200)
      t.equal(text(line), 'body')
      const hops = ['connection', 'keep-alive', 'upgrade', 'proxy-authenticate', 'te', 'transfer-encoding']
      t.same(hops.filter((h) => h in line.content.headers), [])
      t.equal(line.content.headers['x-kept'], 'yes')
    })

    tt.test('a request Node\'s parser would refuse is 400, naming the header but not its value', async (t) => {
      const seen: string[] = []
      const { orch, app } = await boot(t, { dispatcher }, (app) => {
        app.get('/*', async (req) => { seen.push(req.url); return { tab: req.headers['x-tab'] ?? null } })
      })
      await app.ready()
      const bad: Record<string, Record<string, unknown>> = {
        'value-crlf': { headers: { 'x-secret': 'hunter2\r\nX-Injected: 1' } },
        'value-lf': { headers: { 'x-secret': 'hunter2\nx' } },
        'value-nul': { headers: { 'x-secret': 'hunter2\u0000' } },
        'value-del': { headers: { 'x-secret': 'hunter2\u007f' } },
        'name-space': { headers: { 'x secret': 'v' } },
        'name-crlf': { headers: { 'x-a\r\nx-b': 'v' } },
        'name-empty': { headers: { '': 'v' } },
        'uri-space': { uri: '/a b' },
        'uri-crlf': { uri: '/a\r\nHost: evil' },
        'uri-nul': { uri: '/a\u0000' },
        'uri-tab': { uri: '/a\tb' },
        'uri-non-ascii': { uri: '/é' }
      }
      for (const [id, fields] of Object.entries(bad)) request(orch, id, fields)
      request(orch, 'tab', { uri: '/fine?q=1', headers: { 'x-tab': 'a\tb', 'x-latin': 'ü€' } })
      for (const id of Object.keys(bad)) {
        const line = await reply(orch, id)
        t.equal(line.content.status_code, 400, id)
        const error = JSON.parse(text(line)).error as string
        if (id.startsWith('value')) t.match(error, /header "x-secret"/, `${id}: names the header`)
        if (id.startsWith('name')) t.match(error, /not a valid header name/, `${id}: says which`)
        if (id.startsWith('uri')) t.match(error, /uri/, `${id}: says which`)
        t.notOk(error.includes('hunter2'), `${id}: the value is not shown`)
      }
      const tab = await reply(orch, 'tab')
      t.equal(tab.content.status_code, 200, 'a tab and non-ASCII in a value are taken, as over HTTP')
      t.same(JSON.parse(text(tab)), { tab: 'a\tb' })
      t.same(seen, ['/fine?q=1'], 'no refused request reached a route')
      t.equal(app.pywatt.ipcHttp?.badRequest, Object.keys(bad).length)
    })

    tt.test('T25 on shutdown: waiting requests get 503, running ones finish, onClose runs after them', async (t) => {
      const order: string[] = []
      const { orch, app } = await boot(t, { dispatcher, concurrency: 1 }, (app) => {
        app.get('/slow', async () => { await new Promise((resolve) => setTimeout(resolve, 100)); order.push('handler done'); return { ok: true } })
        app.addHook('onClose', async () => { order.push('onClose') })
      })
      await app.ready()
      request(orch, 'running', { uri: '/slow' })
      request(orch, 'waiting', { uri: '/slow' })
      await new Promise((resolve) => setTimeout(resolve, 20))
      orch.send({ op: 'shutdown' })
      await until(() => orch.exits.length === 1)
      t.equal((await reply(orch, 'running')).content.status_code, 200)
      t.equal((await reply(orch, 'waiting')).content.status_code, 503)
      t.same(order, ['handler done', 'onClose'])
      t.same(orch.exits, [0])
    })

    tt.test('a request in the same chunk as shutdown is still answered', async (t) => {
      const { orch, app } = await boot(t, { dispatcher }, (app) => { app.get('/ok', async () => ({ ok: true })) })
      await app.ready()
      orch.input.write('{"op":"shutdown"}\n{"op":"http_request","request_id":"late","method":"GET","uri":"/ok","headers":{}}\n')
      const line = await reply(orch, 'late')
      t.ok([200, 503].includes(line.content.status_code as number), `answered with ${String(line.content.status_code)}`)
      await until(() => orch.exits.length === 1)
    })

    tt.test('streams, hijacked replies, HEAD and hooks behave as over HTTP', async (t) => {
      const { orch, app } = await boot(t, { dispatcher }, (app) => {
        app.addHook('onSend', async (_req, reply, payload) => { reply.header('x-on-send', 'yes'); return payload })
        app.get('/stream', async (_req, reply) => reply.type('text/plain').send(Readable.from(['one ', 'two ', 'three'])))
        app.get('/hijack', (_req, reply) => {
          reply.hijack()
          reply.raw.writeHead(202, { 'content-type': 'text/plain', 'x-raw': '1' })
          reply.raw.end('raw body')
        })
        app.get('/text', async () => 'some text')
      })
      await app.ready()
      request(orch, 'stream', { uri: '/stream' })
      request(orch, 'hijack', { uri: '/hijack' })
      request(orch, 'head', { method: 'HEAD', uri: '/text' })
      const stream = await reply(orch, 'stream')
      t.equal(text(stream), 'one two three')
      t.equal(stream.content.headers['x-on-send'], 'yes')
      const hijack = await reply(orch, 'hijack')
      t.equal(hijack.content.status_code, 202)
      t.equal(text(hijack), 'raw body')
      t.equal(hijack.content.headers['x-raw'], '1')
      const head = await reply(orch, 'head')
      t.equal(head.content.status_code, 200)
      t.same(head.content.body, [], 'no body for HEAD')
      t.equal(head.content.headers['content-length'], String(Buffer.byteLength('some text')))
    })
  })
}

t.test('a response destroyed before it ended is answered 500 (lean) and the module goes on', async (t) => {
  const { orch, app } = await boot(t, { dispatcher: 'lean' }, (app) => {
    app.get('/destroy', (_req, reply) => {
      reply.hijack()
      reply.raw.destroy()
    })
    app.get('/ok', async () => ({ ok: true }))
  })
  await app.ready()
  request(orch, 'd', { uri: '/destroy' })
  request(orch, 'ok', { uri: '/ok' })
  t.equal((await reply(orch, 'd')).content.status_code, 500)
  t.equal((await reply(orch, 'ok')).content.status_code, 200)
  t.equal(app.pywatt.ipcHttp?.failed, 1)
})

t.test('options are checked; standalone mode has nothing to serve', async (t) => {
  const orch = new FakeOrchestrator()
  const app = Fastify()
  t.after(() => app.close())
  orch.init()
  await app.register(pywatt, { io: orch.io })
  await t.rejects(async () => { await app.register(ipcHttp, { concurrency: 0 }) }, { code: 'FST_PYWATT_INVALID_OPTIONS', message: /ipc-http concurrency/ })
  const app2 = Fastify()
  t.after(() => app2.close())
  const orch2 = new FakeOrchestrator()
  orch2.init()
  await app2.register(pywatt, { io: orch2.io })
  await t.rejects(async () => { await app2.register(ipcHttp, { drainTimeout: -1 }) }, { code: 'FST_PYWATT_INVALID_OPTIONS', message: /ipc-http drainTimeout/ })
  const app3 = Fastify()
  t.after(() => app3.close())
  const orch3 = new FakeOrchestrator()
  orch3.init()
  await app3.register(pywatt, { io: orch3.io })
  await t.rejects(async () => { await app3.register(ipcHttp, { dispatcher: 'magic' as 'lean' }) }, { code: 'FST_PYWATT_INVALID_OPTIONS', message: /ipc-http dispatcher/ })
  const app4 = Fastify()
  t.after(() => app4.close())
  const orch4 = new FakeOrchestrator()
  orch4.init()
  await app4.register(pywatt, { io: orch4.io })
  await t.rejects(async () => { await app4.register(ipcHttp, { concurency: 10 } as never) }, { code: 'FST_PYWATT_INVALID_OPTIONS', message: /ipc-http concurency/ }, 'an unknown key (a typo) is refused')
  const solo = Fastify()
  t.after(() => solo.close())
  await solo.register(pywatt, { standalone: true })
  await solo.register(ipcHttp)
  t.equal(solo.pywatt.ipcHttp, undefined)
})

t.test('a sink that throws is logged; the request no longer counts as running and close() does not wait for it', async (t) => {
  const { IpcHttpServer } = await import('../../lib/ipc-http/server.js')
  const log = captureLogger()
  const app = Fastify({ loggerInstance: log.logger })
  t.after(() => app.close())
  app.get('/slow', async () => { await new Promise((resolve) => setTimeout(resolve, 30)); return { ok: true } })
  await app.ready()
  const server = new IpcHttpServer(app, () => { throw new Error('channel gone') }, log.logger, { concurrency: 4, drainTimeout: 5_000, dispatcher: 'lean', requestTimeout: 0, maxQueued: 1_000 })
  server.start()
  server.handle({ op: 'http_request', request_id: 'gone', method: 'GET', uri: '/slow', headers: {} })
  t.equal(server.inFlight, 1)
  await until(() => log.entries().some((e) => e.msg === 'an HTTP-over-IPC reply could not be sent'))
  t.equal(server.inFlight, 0)
  t.equal(await server.close(), true, 'nothing left to drain')
})

t.test('lines that are not a valid http_request never throw: each readable id gets one 400, heartbeats and requests go on', async (t) => {
  const { orch, app } = await boot(t, {}, (app) => { app.get('/ok', async () => ({ ok: true })) })
  await app.ready()
  for (const { line } of HOSTILE_LINES) orch.write(line)
  orch.send({ op: 'heartbeat' })
  request(orch, 'after', { uri: '/ok' })
  t.equal((await reply(orch, 'after')).content.status_code, 200)
  await orch.waitFor((l) => l.op === 'heartbeat_ack')
  for (const { answer } of HOSTILE_LINES) {
    if (answer === undefined) continue
    const line = await reply(orch, answer.id)
    t.equal(line.content.status_code, 400)
    t.match(JSON.parse(text(line)).error, answer.names)
  }
  t.equal(orch.lines.filter((l) => l.content !== undefined).length, 2, 'no reply to a line whose id cannot be read')
  t.equal(app.pywatt.ipcHttp?.badRequest, 1, 'nor an attempt at one')
  t.equal(app.pywatt.channel?.stats.handlerErrors, 0, 'no consumer threw')
  t.same(orch.exits, [])
})

t.test('a reply that cannot be encoded is answered 500 for its id, counted as failed and logged with the reason', async (t) => {
  const { orch, app, log } = await boot(t, { dispatcher: 'lean' }, (app) => {
    // A status no header check sees, and no wire format can carry (u16).
    app.get('/unencodable', (_req, reply) => {
      reply.hijack()
      reply.raw.statusCode = 70_000
      reply.raw.end('body')
    })
    app.get('/ok', async () => ({ ok: true }))
  })
  await app.ready()
  request(orch, 'bad', { uri: '/unencodable' })
  request(orch, 'ok', { uri: '/ok' })
  const line = await reply(orch, 'bad')
  t.equal(line.content.status_code, 500)
  t.same(JSON.parse(text(line)), { error: 'the module failed to answer this request' }, 'a generic body')
  t.equal((await reply(orch, 'ok')).content.status_code, 200)
  t.equal(orch.lines.filter((l) => l.content?.request_id === 'bad').length, 1, 'exactly one reply')
  t.match(app.pywatt.ipcHttp, { served: 1, failed: 1 })
  t.ok(log.entries().some((e) => e.requestId === 'bad' && /status_code/.test(e.err?.message) && /answering 500/.test(e.msg)), 'logged with the real reason')
  t.notOk(log.entries().some((e) => /stdout is gone/.test(e.msg)), 'not blamed on stdout')
})

t.test('only a closed stdout is reported as gone', async (t) => {
  const { orch, app, log } = await boot(t, {}, (app) => { app.get('/ok', async () => ({ ok: true })) })
  await app.ready()
  orch.output.destroy()
  request(orch, 'lost', { uri: '/ok' })
  await until(() => log.entries().some((e) => /stdout is gone/.test(e.msg)))
  t.equal(log.entries().find((e) => /stdout is gone/.test(e.msg))?.err?.code, 'FST_PYWATT_CHANNEL_CLOSED')
  t.notOk(log.entries().some((e) => /answering 500/.test(e.msg)))
})
