import t from 'tap'
import { SecretScrubber, encodingsOf, REDACTED } from '../../lib/logging/scrubber.js'

t.test('empty, whitespace-only and too-short values are never registered', async (t) => {
  const s = new SecretScrubber()
  t.equal(s.add(''), false)
  t.equal(s.add('   '), false)
  t.equal(s.add('\t\n'), false)
  t.equal(s.add('abc'), false)
  t.equal(s.size, 0)
  t.equal(s.scrub('text with    spaces and abc'), 'text with    spaces and abc')
})

t.test('one secret in a sentence; two secrets in one line', async (t) => {
  const s = new SecretScrubber()
  s.add('super-secret-password')
  t.equal(s.scrub('The password is super-secret-password and should be hidden'), `The password is ${REDACTED} and should be hidden`)
  s.add('another-one')
  const out = s.scrub('super-secret-password / another-one')
  t.equal(out.split(REDACTED).length - 1, 2)
})

t.test('longest match first when one secret contains another', async (t) => {
  const s = new SecretScrubber()
  s.add('abcd')
  s.add('abcdef')
  t.equal(s.scrub('x abcdef y abcd z'), `x ${REDACTED} y ${REDACTED} z`)
})

t.test('every encoding of a hostile secret is scrubbed', async (t) => {
  const secret = 'p"a\\s/s+w=ö€rd'
  const s = new SecretScrubber()
  s.add(secret)
  const forms = encodingsOf(secret)
  t.ok(forms.length >= 7)
  for (const form of forms) {
    t.notOk(s.scrub(`before ${form} after`).includes(form), `form ${form}`)
  }
  t.equal(s.scrub(JSON.stringify({ msg: `token=${secret}` })), JSON.stringify({ msg: `token=${REDACTED}` }))
})

t.test('a value registered twice is kept once', async (t) => {
  const s = new SecretScrubber()
  t.equal(s.add('repeat-me'), true)
  t.equal(s.add('repeat-me'), true)
  t.equal(s.size, 1)
})

t.test('in a JSON line, numbers, literals, keys and structure are left alone', async (t) => {
  const s = new SecretScrubber()
  for (const v of ['1796', 'true', 'false', 'null', 'time', 'level', '":"', '127.0.0.1']) s.add(v)
  const line = '{"level":30,"time":1796403191629,"ok":true,"no":false,"none":null,"host":"127.0.0.1","msg":"time 1796 true null false level"}\n'
  const out = s.scrub(line)
  const parsed = JSON.parse(out)
  t.same(Object.keys(parsed), ['level', 'time', 'ok', 'no', 'none', 'host', 'msg'], 'keys kept')
  t.equal(parsed.time, 1796403191629)
  t.equal(parsed.ok, true)
  t.equal(parsed.no, false)
  t.equal(parsed.none, null)
  t.equal(parsed.host, REDACTED)
  t.equal(parsed.msg, Array(6).fill(REDACTED).join(' '), 'string values are scrubbed')
})

t.test('a match that would cut an escape sequence is refused; one that does not is taken', async (t) => {
  const s = new SecretScrubber()
  s.add('n1234567')
  s.add('u00e9x')
  s.add('1234')
  // Decoded, a is a newline then digits and b is "éx": neither secret is in them.
  const line = JSON.stringify({ a: '\n1234567', b: 'éx', c: 'n1234567', d: 'au00e9x' }).replace('é', '\\u00e9')
  t.match(line, '"b":"\\u00e9x"')
  const parsed = JSON.parse(s.scrub(line))
  t.equal(parsed.a, `\n${REDACTED}567`, 'the refused longer match does not hide a shorter one inside it')
  t.equal(parsed.b, 'éx')
  t.equal(parsed.c, REDACTED)
  t.equal(parsed.d, `a${REDACTED}`)
})

t.test('a match spanning two strings, or a string and structure, is refused', async (t) => {
  const s = new SecretScrubber()
  s.add('bc","d')
  s.add('x"}')
  const line = '{"a":"bc","d":"x"}\n'
  t.equal(s.scrub(line), line)
  t.equal(s.scrub('{"a":"bc\\",\\"d"}'), `{"a":"${REDACTED}"}`, 'inside one string (JSON-escaped) it is scrubbed')
})

t.test('secrets with quotes and backslashes are scrubbed in string values, escaped once and twice', async (t) => {
  const secret = 'p"a\\s/s+w=ö€rd'
  const s = new SecretScrubber()
  s.add(secret)
  const line = JSON.stringify({ msg: `x ${secret} y`, body: JSON.stringify({ password: secret }), b64: Buffer.from(secret).toString('base64') })
  const parsed = JSON.parse(s.scrub(line))
  t.equal(parsed.msg, `x ${REDACTED} y`)
  t.same(JSON.parse(parsed.body), { password: REDACTED })
  t.equal(parsed.b64, REDACTED)
})

t.test('a line that is not JSON is scrubbed everywhere', async (t) => {
  const s = new SecretScrubber()
  s.add('1796')
  t.equal(s.scrub('time 1796 here'), `time ${REDACTED} here`)
  t.equal(s.scrub('{"time":1796, oops}'), `{"time":${REDACTED}, oops}`, 'starts with { but is not JSON: no place is safe, all are scrubbed')
  t.equal(s.scrub('{"time":"1796'), `{"time":"${REDACTED}`, 'an unterminated string')
  t.equal(s.scrub('{"a":"\\x1796"}'), `{"a":"\\x${REDACTED}"}`, 'a bad escape')
})

t.test('long JSON lines, and a short one after a long one', async (t) => {
  const s = new SecretScrubber()
  s.add('long-line-secret')
  const long = JSON.stringify({ n: 1796, stack: 'frame\n'.repeat(10_000) + 'long-line-secret' })
  t.ok(long.length > 50_000)
  t.equal(JSON.parse(s.scrub(long)).stack, 'frame\n'.repeat(10_000) + REDACTED)
  t.equal(s.scrub('{"m":"long-line-secret","x":"long-line-secret"}'), `{"m":"${REDACTED}","x":"${REDACTED}"}`)
})

t.test('encodings found where a secret sits inside other encoded text', async (t) => {
  const password = 'hunter2-Correct/Horse!Battery é'
  const s = new SecretScrubber()
  s.add(password)
  const hidden = (line: string, what: string, leaked: string): void => {
    const out = s.scrub(line)
    t.ok(out.includes(REDACTED), `${what}: scrubbed`)
    t.notOk(out.includes(leaked), `${what}: the encoded value is gone`)
  }
  // base64 at each byte alignment: a prefix of 0, 1 or 2 (mod 3) bytes before the value.
  for (const user of ['abc', 'abcd', 'ab']) {
    const basic = Buffer.from(`${user}:${password}`).toString('base64')
    hidden(`authorization: Basic ${basic}`, `Basic ${user}:…`, basic.slice(8, 24))
    const url = Buffer.from(`${user}:${password}`).toString('base64url')
    hidden(`token=${url}`, `base64url ${user}:…`, url.slice(8, 24))
  }
  const body = Buffer.from(JSON.stringify({ token: password, n: 1 })).toString('base64')
  hidden(`body=${body}`, 'base64 of a JSON body', body.slice(16, 32))
  const lower = encodeURIComponent(password).replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase())
  hidden(`GET /x?p=${lower}`, 'lower-case percent escapes', lower)
  const form = new URLSearchParams({ user: 'u', pass: password }).toString()
  hidden(form, 'a form body', form.slice(form.indexOf('pass=') + 5))
  const escaped = JSON.stringify({ p: password }).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
  hidden(escaped, '\\u-escaped JSON', 'Battery \\u00e9')
  hidden(JSON.stringify({ msg: `body ${escaped}` }), '\\u-escaped JSON logged as a string', 'Battery \\\\u00e9')
  const nfd = password.normalize('NFD')
  t.not(nfd, password, 'NFD differs from the registered NFC')
  hidden(`user typed ${nfd}`, 'NFD text', nfd)
})

t.test('safeCut never cuts through an encoding of a value; longestForm bounds what to hold back', async (t) => {
  const s = new SecretScrubber()
  t.equal(s.longestForm, 0)
  t.equal(s.safeCut('anything', 3), 3, 'nothing registered: the cut stays')
  s.add('cut-me-not-please')
  t.ok(s.longestForm >= 'cut-me-not-please'.length)
  const text = 'xxxx cut-me-not-please yyyy'
  t.equal(s.safeCut(text, 10), text.indexOf(' yyyy'), 'a cut inside the value moves past it')
  t.equal(s.safeCut(text, 2), 2, 'a cut before it stays')
  t.equal(s.safeCut(text, 5), 5, 'a cut at its start stays')
})
