import t from 'tap'
import { Type } from '@sinclair/typebox'
import { coerce } from '../../lib/config/coerce.js'
import { configFields, envName } from '../../lib/config/schema.js'
import { configSecret } from '../../plugins/index.js'

t.test('envName: a field name in UPPER_SNAKE_CASE', async (t) => {
  t.equal(envName('port'), 'PORT')
  t.equal(envName('dbHost'), 'DB_HOST')
  t.equal(envName('apiURL'), 'API_URL')
  t.equal(envName('apiURLPath'), 'API_URL_PATH')
  t.equal(envName('http2Port'), 'HTTP2_PORT')
  t.equal(envName('already_snake'), 'ALREADY_SNAKE')
  t.equal(envName('MAX_ITEMS'), 'MAX_ITEMS')
  t.equal(envName('kebab-case'), 'KEBAB_CASE')
})

t.test('coerce: each type from text', async (t) => {
  t.same(coerce(Type.String(), ' spaced '), { ok: true, value: ' spaced ' }, 'strings as they are')
  t.same(coerce(Type.Integer(), ' 42 '), { ok: true, value: 42 })
  t.same(coerce(Type.Integer(), '-7'), { ok: true, value: -7 })
  t.same(coerce(Type.Integer(), '4.5'), { ok: false, expected: 'an integer' })
  t.same(coerce(Type.Integer(), '9007199254740993'), { ok: false, expected: 'an integer' }, 'beyond safe integers')
  t.same(coerce(Type.Number(), '2.5e3'), { ok: true, value: 2500 })
  t.same(coerce(Type.Number(), ''), { ok: false, expected: 'a number' })
  t.same(coerce(Type.Number(), 'Infinity'), { ok: false, expected: 'a number' })
  for (const [text, value] of [['true', true], ['YES', true], ['on', true], ['1', true], ['false', false], ['no', false], ['Off', false], ['0', false]] as const) {
    t.same(coerce(Type.Boolean(), text), { ok: true, value }, `boolean ${text}`)
  }
  t.same(coerce(Type.Boolean(), 'maybe'), { ok: false, expected: 'a boolean (true/false/1/0/yes/no/on/off)' })
  t.same(coerce(Type.Literal('debug'), 'debug'), { ok: true, value: 'debug' })
  t.same(coerce(Type.Literal(3), '3'), { ok: true, value: 3 })
  t.match(coerce(Type.Literal(3), '4'), { ok: false, expected: /^3/ })
  const mode = Type.Union([Type.Literal('dev'), Type.Literal('prod')])
  t.same(coerce(mode, 'prod'), { ok: true, value: 'prod' })
  t.same(coerce(mode, 'staging'), { ok: false, expected: "one of 'dev', 'prod'" })
  t.same(coerce(Type.Enum({ A: 'a', B: 'b' }), 'b'), { ok: true, value: 'b' }, 'TypeBox enums')
  const portOrAuto = Type.Union([Type.Integer(), Type.Literal('auto')])
  t.same(coerce(portOrAuto, '8080'), { ok: true, value: 8080 })
  t.same(coerce(portOrAuto, 'auto'), { ok: true, value: 'auto' })
  t.same(coerce(portOrAuto, 'x'), { ok: false, expected: "an integer or 'auto'" })
  t.same(coerce(Type.Array(Type.String()), '["a","b"]'), { ok: true, value: ['a', 'b'] })
  t.same(coerce(Type.Array(Type.String()), 'a,b'), { ok: false, expected: 'a JSON array' })
  t.same(coerce(Type.Object({ host: Type.String(), port: Type.Integer() }), '{"host":"h","port":1}'), { ok: true, value: { host: 'h', port: 1 } })
  t.match(coerce(Type.Object({ host: Type.String() }), '{"port":1}'), { ok: false, expected: /^a JSON object \(host: Expected required property\)/ })
  t.same(coerce(Type.Record(Type.String(), Type.Number()), '{"a":1}'), { ok: true, value: { a: 1 } })
  t.same(coerce(Type.Unknown(), 'anything'), { ok: true, value: 'anything' })
})

t.test('coerce: the schema\'s rules apply after the conversion, and the outcome never quotes the text', async (t) => {
  t.same(coerce(Type.Integer({ minimum: 1, maximum: 65535 }), '70000'), { ok: false, expected: 'an integer (Expected integer to be less or equal to 65535)' })
  const secretish = 'short-secret-value'
  const outcome = coerce(Type.String({ minLength: 32 }), secretish)
  t.match(outcome, { ok: false, expected: /^a string \(Expected string length greater or equal to 32\)$/ })
  t.notMatch(JSON.stringify(outcome), secretish)
  t.same(coerce(Type.String({ pattern: '^https://' }), 'https://x'), { ok: true, value: 'https://x' })
})

t.test('configFields: names, sources, optional and defaults; a bad schema is FST_PYWATT_INVALID_OPTIONS naming the field', async (t) => {
  const fields = configFields(Type.Object({
    dbHost: Type.String(),
    listenPort: Type.Integer({ env: 'PORT', default: 3000 }),
    dbPassword: configSecret(Type.String(), 'DB_PASSWORD'),
    apiKey: Type.Optional(Type.String({ secret: 'API_KEY' }))
  }))
  t.same(fields.map((f) => [f.key, f.from, f.optional, f.fallback]), [
    ['dbHost', { kind: 'env', name: 'DB_HOST' }, false, undefined],
    ['listenPort', { kind: 'env', name: 'PORT' }, false, { value: 3000 }],
    ['dbPassword', { kind: 'secret', name: 'DB_PASSWORD' }, false, undefined],
    ['apiKey', { kind: 'secret', name: 'API_KEY' }, true, undefined]
  ])
  t.throws(() => configFields(Type.String()), { code: 'FST_PYWATT_INVALID_OPTIONS', message: /config: must be a TypeBox object schema/ })
  t.throws(() => configFields({ port: Type.Integer() }), { code: 'FST_PYWATT_INVALID_OPTIONS' })
  t.throws(() => configFields(Type.Object({ both: Type.String({ env: 'A', secret: 'B' }) })), { code: 'FST_PYWATT_INVALID_OPTIONS', message: /config\.both: .*not both/ })
  t.throws(() => configFields(Type.Object({ blank: Type.String({ env: ' ' }) })), { message: /config\.blank: the env option must be a non-empty name/ })
})

t.test('coerce: null, and a schema that takes any text', async (t) => {
  t.same(coerce(Type.Null(), 'null'), { ok: true, value: null })
  t.same(coerce(Type.Union([Type.Integer(), Type.Null()]), 'nil'), { ok: false, expected: 'an integer or null' })
  t.same(coerce(Type.Union([Type.Literal('x'), Type.Any()]), 'y'), { ok: true, value: 'y' })
})
