import t from 'tap'
import fc from 'fast-check'
import Fastify from 'fastify'
import pywatt from '../../plugins/index.js'
import ipcHttp from '../../plugins/ipc-http.js'
import { FakeOrchestrator, type Line, until } from '../helpers/fake-orchestrator.js'
import { captureLogger } from '../helpers/log-capture.js'

// Characters that break naive handling: controls, separators, quotes, DEL, latin1, beyond latin1, lone surrogates.
const ODD = ['\r', '\n', '\0', '\t', ' ', '\u007f', ':', ';', ',', '"', '\\', '%', '?', '#', 'é', 'ü', '€', '😀', '\ud800', '\udfff']

const oddString = fc.array(fc.oneof(fc.constantFrom(...ODD), fc.string({ unit: 'binary', maxLength: 4 })), { maxLength: 6 }).map((parts) => parts.join(''))

/** Anything JSON can hold, with odd strings (lone surrogates are escaped by JSON.stringify). */
const anyJson = fc.oneof(fc.constant(null), fc.boolean(), fc.integer(), oddString, fc.array(fc.integer(), { maxLength: 3 }), fc.dictionary(oddString, fc.integer(), { maxKeys: 2 }))

/** A field left out of the line. */
const ABSENT = Symbol('absent')

/** Mostly `valid` so that many lines reach a route; sometimes odd, any JSON, or absent. */
function field<T> (valid: fc.Arbitrary<T>, odd: fc.Arbitrary<unknown>): fc.Arbitrary<T | unknown> {
  return fc.oneof(
    { weight: 12, arbitrary: valid },
    { weight: 2, arbitrary: odd },
    { weight: 1, arbitrary: anyJson },
    { weight: 1, arbitrary: fc.constant(ABSENT) }
  )
}

const ID = fc.oneof({ weight: 8, arbitrary: oddString.map((s) => ({ string: s })) }, { weight: 1, arbitrary: anyJson.filter((v) => typeof v !== 'string').map((v) => ({ other: v })) }, { weight: 1, arbitrary: fc.constant({}) })
const OP = field(fc.constant('http_request'), oddString.map((s) => `x-${s}`))
const METHOD = field(fc.constantFrom('GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'BREW'), fc.oneof(fc.constant('get'), oddString))
const URI = field(
  fc.constantFrom('/ok', '/echo?q=1', '/raw?status=0', '/raw?status=200', '/raw?status=70000', '/code?status=999', '/code?status=204', '/%zz', '//x', '/'),
  fc.oneof(oddString.map((s) => `/${s}`), oddString)
)
const HEADER_NAME = fc.constantFrom('x-echo', 'content-type', 'connection', 'content-length', 'x-forwarded-for', 'accept', 'X-Upper')
const HEADERS = field(
  fc.dictionary(HEADER_NAME, fc.oneof(fc.constantFrom('application/json', 'text/plain', '1', 'close', '203.0.113.9, 10.0.0.1', 'ü', '€'), fc.string({ maxLength: 8 })), { maxKeys: 4 }),
  fc.oneof(fc.dictionary(fc.oneof(HEADER_NAME, oddString), oddString, { maxKeys: 4 }), fc.dictionary(oddString, anyJson, { maxKeys: 2 }))
)
const BODY = field(
  fc.oneof(fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 16 }), fc.constant([...Buffer.from('{"a":1}')])),
  fc.array(fc.integer({ min: -300, max: 300 }), { maxLength: 4 })
)

/** One `http_request`-ish object. */
const REQUEST = fc.record({ op: OP, request_id: ID, method: METHOD, uri: URI, headers: HEADERS, body: BODY, extra: field(fc.constant(ABSENT), anyJson) })

/** Now and then a line that is JSON but no object at all (`null`, `[]`, `"str"`…). */
const LINE = fc.oneof({ weight: 20, arbitrary: REQUEST }, { weight: 1, arbitrary: anyJson.filter((v) => typeof v !== 'object' || v === null || Array.isArray(v)).map((v) => ({ bare: v })) })

type Generated = typeof LINE extends fc.Arbitrary<infer T> ? T : never

interface Case { line: string, id: string | null }

/**
 * The line for one generated request, with a unique `request_id` (ids in flight
 * must differ, or the second is rightly ignored), and the id a reply must carry:
 * the documented "readable" id, a well-formed string in an http_request object.
 */
function toCase (g: Generated, unique: string): Case {
  if ('bare' in g) return { line: JSON.stringify(g.bare), id: null }
  const { request_id: id, ...fields } = g
  const obj: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(fields)) if (value !== ABSENT) obj[key] = value
  if ('string' in id) obj.request_id = `${unique}${id.string}`
  else if ('other' in id) obj.request_id = id.other
  const readable = obj.op === 'http_request' && typeof obj.request_id === 'string' && isWellFormed(obj.request_id)
  return { line: JSON.stringify(obj), id: readable ? obj.request_id as string : null }
}

function isWellFormed (s: string): boolean {
  return (s as unknown as { isWellFormed: () => boolean }).isWellFormed()
}

for (const dispatcher of ['lean', 'inject'] as const) {
  t.test(`${dispatcher}: any http_request-shaped line gets exactly one reply when its id is readable, none otherwise, and never crashes`, async (t) => {
    const orch = new FakeOrchestrator()
    const log = captureLogger('warn')
    const app = Fastify({ loggerInstance: log.logger })
    t.after(() => app.close())
    orch.init({ module_id: 'prop' })
    await app.register(pywatt, { io: orch.io, health: false })
    await app.register(ipcHttp, { dispatcher })
    app.all('/*', async (req, reply) => {
      const echo = req.headers['x-echo']
      // A request value the request check takes (non-latin1) that Node refuses in a reply.
      if (typeof echo === 'string') reply.header('x-echo', echo)
      return { method: req.method, url: req.url }
    })
    app.get('/raw', (req, reply) => {
      reply.hijack()
      try {
        reply.raw.writeHead(Number((req.query as { status?: string }).status))
      } catch {
        // Node's response refuses a status outside 100–999 (inject); the lean one takes it, and 70 000 reaches the encoder.
        reply.raw.writeHead(500)
      }
      reply.raw.end('raw')
    })
    app.get('/code', async (req, reply) => reply.code(Number((req.query as { status?: string }).status)).send('code'))
    await app.ready()

    const replies = new Map<string, number>()
    const expected = new Set<string>()
    let seen = 0
    orch.output.on('data', () => {
      for (const line of orch.lines.slice(seen) as Line[]) {
        const id = line.content?.request_id
        if (typeof id === 'string') replies.set(id, (replies.get(id) ?? 0) + 1)
      }
      seen = orch.lines.length
    })
    let run = 0
    await fc.assert(fc.asyncProperty(fc.array(LINE, { minLength: 1, maxLength: 6 }), async (generated) => {
      run++
      const cases = generated.map((g, i) => toCase(g, `${run}.${i}:`))
      for (const c of cases) {
        orch.write(c.line)
        if (c.id !== null) expected.add(c.id)
      }
      const sentinel = `sentinel-${run}`
      orch.send({ op: 'http_request', request_id: sentinel, method: 'GET', uri: '/ok', headers: {} })
      await until(() => replies.has(sentinel) && cases.every((c) => c.id === null || replies.has(c.id)), 5_000)
      for (const c of cases) {
        if (c.id !== null && replies.get(c.id) !== 1) throw new Error(`${replies.get(c.id) ?? 0} replies to ${c.line}`)
      }
      const stray = [...replies.keys()].filter((id) => !expected.has(id) && !id.startsWith('sentinel-'))
      if (stray.length > 0) throw new Error(`replies to unreadable ids: ${JSON.stringify(stray)}`)
    }), { numRuns: 150 })

    // Late replies would show up as a count above one or a stray id.
    orch.send({ op: 'heartbeat' })
    await orch.waitFor((l) => l.op === 'heartbeat_ack')
    t.ok([...replies.values()].every((n) => n === 1), 'no id answered twice')
    t.same([...replies.keys()].filter((id) => !expected.has(id) && !id.startsWith('sentinel-')), [], 'no reply to an unreadable id')
    t.ok([...expected].every((id) => replies.has(id)), `every one of ${expected.size} readable ids answered`)
    t.equal(app.pywatt.channel?.stats.handlerErrors, 0, 'no consumer threw')
    t.same(orch.exits, [], 'the module never stopped')
  })
}
