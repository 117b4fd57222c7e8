import t from 'tap'
import { Type } from '@sinclair/typebox'
import pywatt, { registerFormat, type ConfigProblem } from '../../plugins/index.js'
import { STRING_FORMATS } from '../../lib/schema/string-formats.js'
import { knownFormats, unknownFormat } from '../../lib/schema/formats.js'
import { ChannelServer } from '../../lib/dev/channel-server.js'
import { until } from '../helpers/fake-orchestrator.js'
import { inProcessModule } from '../helpers/in-process.js'

const SAMPLES: Record<string, { good: string[], bad: string[] }> = {
  date: { good: ['2026-12-05', '2024-02-29', '2000-02-29'], bad: ['2026-13-01', '2026-04-31', '2023-02-29', '1900-02-29', '2026-1-5', '20261205', ''] },
  time: { good: ['23:59:60', '08:30:00', '08:30:00.123Z', '08:30:00+01:00'], bad: ['24:00:00', '08:60:00', '8:30:00', '08:30', '08:30:00+25:00'] },
  'date-time': { good: ['2026-12-05T08:30:00Z', '2026-12-05t08:30:00.5+05:30', '2026-12-05 08:30:00-01:00'], bad: ['2026-12-05T08:30:00', '2026-12-05', '2026-02-30T00:00:00Z', 'yesterday'] },
  email: { good: ['ops@example.com', 'first.last+tag@mail.example.co.uk', "o'brien@example.org"], bad: ['ops', 'ops@', '@example.com', 'ops@localhost', 'a b@example.com', 'ops@example.com.', 'ops@-example.com', `${'x'.repeat(65)}@example.com`] },
  hostname: { good: ['localhost', 'db.internal', 'a-b.example.com', 'example.com.'], bad: ['-bad.example', 'under_score.example', 'a..b', `${'x'.repeat(64)}.example`, ''] },
  ipv4: { good: ['127.0.0.1', '10.0.0.255'], bad: ['256.0.0.1', '1.2.3', '::1'] },
  ipv6: { good: ['::1', 'fe80::1', '2001:db8::8a2e:370:7334'], bad: ['127.0.0.1', ':::1', 'g::1'] },
  uri: { good: ['https://example.com/a?b=c', 'postgres://u@127.0.0.1:5432/db', 'urn:isbn:0451450523', 'mailto:ops@example.com'], bad: ['example.com', '/relative/path', 'https://exa mple.com', 'http://[::1'] },
  uuid: { good: ['6fa459ea-ee8a-3ca4-894e-db77e160355e', 'urn:uuid:6FA459EA-EE8A-3CA4-894E-DB77E160355E'], bad: ['6fa459eaee8a3ca4894edb77e160355e', '6fa459ea-ee8a-3ca4-894e-db77e160355', 'not-a-uuid'] },
  regex: { good: ['^a+$', '\\d{3}'], bad: ['(', '[a-'] }
}

t.test('each string format takes what the format means and refuses the rest', async (t) => {
  t.same(Object.keys(SAMPLES).sort(), Object.keys(STRING_FORMATS).filter((f) => f !== 'url').sort(), 'every format has samples (url is uri)')
  for (const [format, { good, bad }] of Object.entries(SAMPLES)) {
    const check = STRING_FORMATS[format] as (text: string) => boolean
    for (const text of good) t.ok(check(text), `${format}: ${JSON.stringify(text)} is taken`)
    for (const text of bad) t.notOk(check(text), `${format}: ${JSON.stringify(text)} is refused`)
  }
  t.equal(STRING_FORMATS.url, STRING_FORMATS.uri)
})

t.test('unknownFormat finds a format with no check at any depth, and where; data keywords are not schemas', async (t) => {
  t.equal(unknownFormat(Type.String({ format: 'email' })), undefined)
  t.same(unknownFormat(Type.String({ format: 'phone' })), { format: 'phone', path: '' })
  t.same(unknownFormat(Type.Object({ a: Type.Object({ b: Type.Array(Type.String({ format: 'iban' })) }) })), { format: 'iban', path: '.a.b[]' })
  t.same(unknownFormat(Type.Union([Type.Integer(), Type.String({ format: 'isbn' })])), { format: 'isbn', path: '' })
  t.equal(unknownFormat(Type.Object({ x: Type.Unknown({ default: { format: 'not-a-schema' }, examples: [{ format: 'nor-this' }] }) })), undefined)
  t.ok(knownFormats().includes('email'))
  t.notOk(knownFormats().some((f) => f.startsWith('pywatt-')), 'the protocol\'s own formats are not offered')
})

const setup = inProcessModule

t.test('config: formatted fields are checked, a bad value is named with its format, never quoted', async (t) => {
  const { orch, app } = setup(t)
  orch.init({ env: { FMT_API: 'https://api.example.com/v1', FMT_ADMIN: 'root-at-example', FMT_SINCE: '2026-12-05', FMT_PEERS: '["10.0.0.1","10.0.0.300"]' } })
  const err = await app.register(pywatt, {
    io: orch.io,
    config: Type.Object({
      fmtApi: Type.String({ format: 'uri' }),
      fmtAdmin: Type.String({ format: 'email' }),
      fmtSince: Type.String({ format: 'date' }),
      fmtPeers: Type.Array(Type.String({ format: 'ipv4' }))
    })
  }).then(() => undefined, (e: Error & { code: string, problems: ConfigProblem[] }) => e)
  t.equal(err?.code, 'FST_PYWATT_CONFIG')
  t.same(err?.problems.map((p) => [p.key, p.expected]), [
    ['fmtAdmin', "a string (Expected string to match 'email' format)"],
    ['fmtPeers', "a JSON array (1: Expected string to match 'ipv4' format)"]
  ], 'the uri and the date pass; the email and the second address do not')
  t.notMatch(err?.message, /root-at-example|10\.0\.0\.300/)
})

t.test('config: a format with no check is refused at registration, naming the field and the known formats; registerFormat() makes it known', async (t) => {
  const schema = Type.Object({ fmtIban: Type.String({ format: 'fmt-iban' }) })
  {
    const { orch, app } = setup(t)
    orch.init({ env: { FMT_IBAN: 'DE89370400440532013000' } })
    await t.rejects(async () => { await app.register(pywatt, { io: orch.io, config: schema }) },
      { code: 'FST_PYWATT_INVALID_OPTIONS', message: /config\.fmtIban: format 'fmt-iban' is not known: use one of date, date-time, email, .*, or registerFormat\(\) it/ })
  }
  registerFormat('fmt-iban', (text) => /^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$/.test(text))
  const { orch, app } = setup(t)
  orch.init({ env: { FMT_IBAN: 'DE89370400440532013000' } })
  await app.register(pywatt, { io: orch.io, config: schema })
  t.equal((app.pywatt.config as Record<string, unknown>).fmtIban, 'DE89370400440532013000')
  t.throws(() => registerFormat('', () => true), { code: 'FST_PYWATT_INVALID_OPTIONS' })
  t.throws(() => registerFormat('x', 'yes' as never), { code: 'FST_PYWATT_INVALID_OPTIONS', message: /check of x must be a function/ })
})

t.test('modules: a schema naming an unknown format is refused where it is given; a known one is enforced on the payload', async (t) => {
  const { orch, app } = setup(t)
  const tcp = new ChannelServer({ kind: 'tcp' })
  await tcp.listen()
  t.after(() => tcp.close())
  orch.init({ tcp_channel: { address: tcp.address, tls_enabled: false, required: true } })
  await app.register(pywatt, { io: orch.io })
  await app.ready()
  await tcp.connected()
  const { modules } = app.pywatt
  const unknown = { request: Type.Object({ to: Type.String({ format: 'fmt-phone' }) }) }
  t.throws(() => modules.handle('call', { schema: unknown }, async () => null),
    { code: 'FST_PYWATT_INVALID_OPTIONS', message: /modules\.handle\(call\): the request schema names format 'fmt-phone' \(at to\) is not known/ })
  await t.rejects(modules.request('b', 'call', { to: '+1' }, { schema: { answer: Type.String({ format: 'fmt-phone' }) } }),
    { code: 'FST_PYWATT_INVALID_OPTIONS', message: /modules\.request\(b, call\): the answer schema names format 'fmt-phone'/ })
  const mail = { request: Type.Object({ to: Type.String({ format: 'email' }) }) }
  await t.rejects(modules.request('b', 'mail', { to: 'nobody' }, { schema: mail }),
    { code: 'FST_PYWATT_MODULE_PAYLOAD', message: /does not match its schema: \/to: Expected string to match 'email' format/ })
  const sent = modules.request('b', 'mail', { to: 'ops@example.com' }, { schema: mail, timeout: 200 })
  await until(() => tcp.received.some((e) => e.content.op === 'route_to_module'))
  await t.rejects(sent, { code: 'FST_PYWATT_MODULE_TIMEOUT' }, 'a valid payload went out (no module answers here)')
})
