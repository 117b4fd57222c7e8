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
