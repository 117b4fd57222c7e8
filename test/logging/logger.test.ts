import t from 'tap'
import { levelFromEnv, pywattLogger } from '../../lib/logging/logger.js'
import { stderrSink } from '../../lib/logging/stderr-sink.js'
import { registerSecret, secretRegistry } from '../../lib/logging/registry.js'
import { encodingsOf, REDACTED } from '../../lib/logging/scrubber.js'

/** A pino destination kept in memory. */
function memory (): { destination: { write: (line: string) => void }, lines: string[], entries: () => Array<Record<string, any>> } {
  const lines: string[] = []
  return {
    destination: { write: (line: string) => { lines.push(line) } },
    lines,
    entries: () => lines.map((l) => JSON.parse(l) as Record<string, any>)
  }
}

t.test('levelFromEnv', async (t) => {
  t.equal(levelFromEnv({}), 'info', 'default')
  t.equal(levelFromEnv({ PYWATT_LOG_LEVEL: 'debug' }), 'debug')
  t.equal(levelFromEnv({ PYWATT_LOG_LEVEL: ' WARN ' }), 'warn', 'trimmed, case-insensitive')
  t.equal(levelFromEnv({ PYWATT_LOG_LEVEL: 'Silent' }), 'silent')
  t.equal(levelFromEnv({ RUST_LOG: 'TRACE' }), 'trace', 'a plain-level RUST_LOG')
  t.equal(levelFromEnv({ PYWATT_LOG_LEVEL: 'error', RUST_LOG: 'trace' }), 'error', 'PYWATT_LOG_LEVEL first')
  t.equal(levelFromEnv({ PYWATT_LOG_LEVEL: 'verbose', RUST_LOG: 'fatal' }), 'fatal', 'junk PYWATT_LOG_LEVEL ignored')
  t.equal(levelFromEnv({ RUST_LOG: 'my_crate=debug,info' }), 'info', 'a RUST_LOG filter is not a level')
  t.equal(levelFromEnv({ RUST_LOG: 'my_crate=warn' }), 'info')
  t.equal(levelFromEnv({ PYWATT_LOG_LEVEL: '', RUST_LOG: '' }), 'info', 'empty values ignored')
  t.equal(levelFromEnv({ PYWATT_LOG_LEVEL: '10' }), 'info', 'numbers are not level names')

  const saved = { PYWATT_LOG_LEVEL: process.env.PYWATT_LOG_LEVEL, RUST_LOG: process.env.RUST_LOG }
  t.teardown(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  })
  delete process.env.RUST_LOG
  process.env.PYWATT_LOG_LEVEL = 'error'
  t.equal(levelFromEnv(), 'error', 'reads process.env by default')
  const m = memory()
  const log = pywattLogger({ destination: m.destination })
  t.equal(log.level, 'error', 'pywattLogger takes its default level from the environment')
  log.warn('not written')
  log.error('written')
  t.same(m.entries().map((e) => e.msg), ['written'])
  delete process.env.PYWATT_LOG_LEVEL
  process.env.RUST_LOG = 'debug'
  t.equal(pywattLogger({ destination: m.destination }).level, 'debug')
  t.equal(pywattLogger({ destination: m.destination, level: 'fatal' }).level, 'fatal', 'an explicit level wins')
})

t.test('registerSecret ignores empty, whitespace-only and too-short values', async (t) => {
  const before = secretRegistry.size
  t.equal(registerSecret(''), false)
  t.equal(registerSecret('    '), false)
  t.equal(registerSecret(' \t\n '), false)
  t.equal(registerSecret('abc'), false)
  t.equal(secretRegistry.size, before, 'nothing registered')
  t.equal(secretRegistry.scrub('a     b'), 'a     b', 'whitespace is never scrubbed')
  t.equal(registerSecret('registered-once-value'), true)
  t.equal(registerSecret('registered-once-value'), true, 'registering again is fine')
  t.equal(secretRegistry.size, before + 1)
  t.equal(secretRegistry.scrub('x registered-once-value y'), `x ${REDACTED} y`)
})

t.test('pywattLogger scrubs registered secrets everywhere in a line', async (t) => {
  const secret = 'p"a\\ss/w+o=rd-ünï€-42'
  const plain = 'plain-secret-abcdef'
  registerSecret(secret)
  registerSecret(plain)
  const m = memory()
  const log = pywattLogger({ level: 'trace', destination: m.destination })

  log.info(`the password is ${secret} and ${plain}`)
  log.info({ deep: { list: [1, { token: plain }, secret] } }, 'nested fields')
  const err = new Error(`connect failed for ${plain}`)
  log.error({ err }, 'with an error')
  log.warn({ body: JSON.stringify({ password: secret }) }, 'a serialized body (double escaped)')
  log.debug({ b64: Buffer.from(plain).toString('base64'), hex: Buffer.from(plain).toString('hex') }, 'encoded forms')
  log.trace({ url: `https://x.test/?k=${encodeURIComponent(secret)}` }, 'url-encoded')
  const child = log.child({ bound: plain })
  child.info('child logger')

  t.equal(m.lines.length, 7)
  for (const line of m.lines) {
    for (const form of [...encodingsOf(secret), ...encodingsOf(plain)]) {
      t.notOk(line.includes(form), `no ${form} in ${line.slice(0, 40)}`)
    }
    t.ok(line.includes(REDACTED), 'the placeholder is there')
    t.doesNotThrow(() => JSON.parse(line), 'still valid JSON')
  }
  const [msg, nested, withErr, body, encoded, url, child1] = m.entries()
  t.equal(msg.msg, `the password is ${REDACTED} and ${REDACTED}`)
  t.same(nested.deep, { list: [1, { token: REDACTED }, REDACTED] })
  t.equal(withErr.err.message, `connect failed for ${REDACTED}`)
  t.match(withErr.err.stack, `Error: connect failed for ${REDACTED}`)
  t.equal(withErr.err.type, 'Error', 'the error is still serialized as an error')
  t.same(JSON.parse(body.body), { password: REDACTED })
  t.equal(encoded.b64, REDACTED)
  t.equal(encoded.hex, REDACTED)
  t.equal(url.url, `https://x.test/?k=${REDACTED}`)
  t.equal(child1.bound, REDACTED)

  // a value registered after the logger was built is scrubbed too
  const later = 'registered-later-secret'
  log.info(`before: ${later}`)
  registerSecret(later)
  log.info(`after: ${later}`)
  t.same(m.entries().slice(-2).map((e) => e.msg), [`before: ${later}`, `after: ${REDACTED}`])
})

t.test('redact paths passed through the pino options censor authorization headers by path', async (t) => {
  const m = memory()
  const log = pywattLogger({
    destination: m.destination,
    pino: { redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization'], censor: REDACTED } }
  })
  log.info({ req: { method: 'GET', headers: { authorization: 'Bearer unregistered-token', cookie: 'sid=abc', host: 'h.test' } } }, 'request')
  log.info({ headers: { authorization: 'Basic dXNlcjpwdw==', accept: '*/*' } }, 'headers')
  log.info({ other: { authorization: 'not a listed path' } }, 'elsewhere')
  const [req, headers, other] = m.entries()
  t.same(req.req.headers, { authorization: REDACTED, cookie: REDACTED, host: 'h.test' })
  t.equal(req.req.method, 'GET')
  t.same(headers.headers, { authorization: REDACTED, accept: '*/*' })
  t.equal(other.other.authorization, 'not a listed path', 'only the listed paths')
  t.notOk(m.lines.join('\n').includes('unregistered-token'), 'the token was never registered: censored by path')

  // path redaction and value scrubbing together
  const secret = 'value-scrubbed-next-to-redact'
  registerSecret(secret)
  log.info({ req: { headers: { authorization: `Bearer ${secret}`, 'x-key': secret } } }, `msg ${secret}`)
  const last = m.entries().at(-1) as Record<string, any>
  t.same(last.req.headers, { authorization: REDACTED, 'x-key': REDACTED })
  t.equal(last.msg, `msg ${REDACTED}`)
})

t.test('extra pino options are used; the scrubber hook cannot be replaced', async (t) => {
  const secret = 'hook-cannot-be-replaced'
  registerSecret(secret)
  const m = memory()
  const log = pywattLogger({
    level: 'info',
    destination: m.destination,
    pino: {
      base: { service: 'unit' },
      messageKey: 'message',
      // not allowed by the type, and must be overridden anyway
      ...({ hooks: { streamWrite: (s: string) => s } } as object)
    }
  })
  log.info(`x ${secret}`)
  const [entry] = m.entries()
  t.equal(entry.service, 'unit')
  t.equal(entry.message, `x ${REDACTED}`)
  t.equal(entry.pid, undefined, 'base replaced')
})

t.test('without a destination, lines go to the shared stderr sink', async (t) => {
  const log = pywattLogger({ level: 'info' })
  const before = stderrSink().stats.written + stderrSink().stats.dropped
  log.info('a line for the shared sink')
  t.ok(await stderrSink().flush(2_000), 'flushed')
  t.equal(stderrSink().stats.written + stderrSink().stats.dropped, before + 1, 'the sink took the line')
})

// Registers short, common-looking secrets for the rest of the file: kept near the end.
t.test('only string values are scrubbed: numbers, literals and keys stay, and every line is JSON', async (t) => {
  for (const v of ['1796', 'true', 'null', 'time', 'as-a-key-secret']) registerSecret(v)
  const m = memory()
  const log = pywattLogger({ destination: m.destination })
  log.info({ n: 1796, ok: true, none: null, map: { 'as-a-key-secret': 'value' } }, 'time 1796 true null as-a-key-secret')
  const [line] = m.lines
  t.doesNotThrow(() => JSON.parse(line))
  const entry = JSON.parse(line)
  t.type(entry.time, 'number', 'the time field keeps its name and its number')
  t.equal(entry.n, 1796)
  t.equal(entry.ok, true)
  t.equal(entry.none, null)
  t.same(entry.map, { 'as-a-key-secret': 'value' }, 'a key is not a value: a secret used as a key is not scrubbed')
  t.equal(entry.msg, Array(5).fill(REDACTED).join(' '))
})
