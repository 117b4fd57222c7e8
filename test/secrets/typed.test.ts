import t, { type Test } from 'tap'
import {
  parseBoolSecret, parseDurationSecret, parseFloatSecret, parseIntSecret, parseJsonSecret, parseUrlSecret
} from '../../lib/secrets/typed.js'

const SECRET = 'hunter2-not-a-number'

function rejects (t: Test, fn: () => unknown, type: RegExp): void {
  try {
    fn()
    t.fail('expected an error')
  } catch (err) {
    const e = err as Error & { code: string }
    t.equal(e.code, 'FST_PYWATT_SECRET_INVALID')
    t.match(e.message, /'KEY'/, 'names the key')
    t.match(e.message, type, 'names the expected type')
    t.notMatch(e.message, SECRET, 'never the value')
  }
}

t.test('int', async (t) => {
  t.equal(parseIntSecret('KEY', ' 42 '), 42)
  t.equal(parseIntSecret('KEY', '-7'), -7)
  rejects(t, () => parseIntSecret('KEY', SECRET), /integer/)
  rejects(t, () => parseIntSecret('KEY', '1.5'), /integer/)
  rejects(t, () => parseIntSecret('KEY', '9007199254740993'), /integer/)
})

t.test('float', async (t) => {
  t.equal(parseFloatSecret('KEY', '1.5'), 1.5)
  t.equal(parseFloatSecret('KEY', '1e3'), 1000)
  rejects(t, () => parseFloatSecret('KEY', SECRET), /number/)
  rejects(t, () => parseFloatSecret('KEY', '  '), /number/)
  rejects(t, () => parseFloatSecret('KEY', 'Infinity'), /number/)
})

t.test('bool', async (t) => {
  for (const v of ['true', 'TRUE', '1', 'yes', 'On']) t.equal(parseBoolSecret('KEY', v), true, v)
  for (const v of ['false', '0', 'no', 'OFF']) t.equal(parseBoolSecret('KEY', v), false, v)
  rejects(t, () => parseBoolSecret('KEY', SECRET), /boolean/)
})

t.test('url', async (t) => {
  t.equal(parseUrlSecret('KEY', 'postgres://u:p%40ss@db:5432/x').password, 'p%40ss')
  rejects(t, () => parseUrlSecret('KEY', SECRET), /URL/)
})

t.test('json', async (t) => {
  t.same(parseJsonSecret('KEY', '{"a":[1,2]}'), { a: [1, 2] })
  rejects(t, () => parseJsonSecret('KEY', SECRET), /JSON/)
})

t.test('duration', async (t) => {
  t.equal(parseDurationSecret('KEY', '1500'), 1500)
  t.equal(parseDurationSecret('KEY', '250ms'), 250)
  t.equal(parseDurationSecret('KEY', '30s'), 30_000)
  t.equal(parseDurationSecret('KEY', '1h30m'), 5_400_000)
  t.equal(parseDurationSecret('KEY', '1.5s'), 1500)
  t.equal(parseDurationSecret('KEY', '2d'), 172_800_000)
  rejects(t, () => parseDurationSecret('KEY', SECRET), /duration/)
  rejects(t, () => parseDurationSecret('KEY', '-5'), /duration/)
  rejects(t, () => parseDurationSecret('KEY', '10 parsecs'), /duration/)
  rejects(t, () => parseDurationSecret('KEY', '5s junk'), /duration/)
})
