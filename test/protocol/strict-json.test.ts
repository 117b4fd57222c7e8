import t from 'tap'
import { ARRAY_ITEM, MAX_NESTING_DEPTH, formatPath, parseStrictJson, parseStrictJsonDetailed, pathAtOffset } from '../../lib/protocol/strict-json.js'

const PROTOCOL_ERROR = { code: 'FST_PYWATT_PROTOCOL' }
// Blanks that push a text past the length up to which it is scanned one character at a time.
const SHORT_PAD = 2100

t.test('valid JSON parses like JSON.parse', async (t) => {
  const text = '{"a":[1,{"b":"x"}],"c":null,"d":true,"e":false,"f":"}{[]\\"\\\\"}'
  t.same(parseStrictJson(text), JSON.parse(text))
  t.same(parseStrictJson('[1,2,3]'), [1, 2, 3], 'any top-level value')
  t.equal(parseStrictJson(' "s" '), 's')
  t.same(parseStrictJsonDetailed('{"port":4102}').floats, [], 'no floats reported for integers')
})

t.test('duplicate keys', async (t) => {
  t.throws(() => parseStrictJson('{"op":"a","op":"b"}'), { ...PROTOCOL_ERROR, message: /duplicate key `op`/ })
  t.throws(() => parseStrictJson('{"a":{"x":{"b":1,"b":2}}}'), { message: /duplicate key `b`/ }, 'nested')
  t.throws(() => parseStrictJson('{"a":[{"k":1},{"k":1,"k":2}]}'), { message: /duplicate key `k`/ }, 'inside an array')
  t.throws(() => parseStrictJson('{"op":"a","\\u006fp":"b"}'), { message: /duplicate key `op`/ }, 'escaped spelling of the same key')
  t.throws(() => parseStrictJson('{"a" : 1, "a"\n\t:2}'), { message: /duplicate key `a`/ }, 'blanks before the colon')
  t.throws(() => parseStrictJson('{"x\\\\":1,"x\\\\":2}'), { message: /duplicate key `x\\`/ }, 'key ending in an escaped backslash')
  t.same(parseStrictJson('{"a":{"x":1},"b":{"x":1},"c":[{"x":1},{"x":2}]}'), { a: { x: 1 }, b: { x: 1 }, c: [{ x: 1 }, { x: 2 }] }, 'same key in sibling objects is fine')
  t.same(parseStrictJson('{"a":"b:c","b":"\\"a\\":"}'), { a: 'b:c', b: '"a":' }, 'key-looking text inside strings is not a key')
  t.same(parseStrictJson('{"a":"x","b":"a"}'), { a: 'x', b: 'a' }, 'a string value equal to a key is not a key')
  t.throws(() => parseStrictJson(`{"k":"${'x'.repeat(100)}","${'y'.repeat(100)}":1,"${'y'.repeat(100)}":2}`), { message: /duplicate key `y{64}…`/ }, 'long keys are shortened')
})

t.test('__proto__ keys are refused (prototype poisoning)', async (t) => {
  t.throws(() => parseStrictJson('{"__proto__":{"polluted":true}}'), { ...PROTOCOL_ERROR, message: /forbidden key `__proto__`/ })
  t.throws(() => parseStrictJson('{"a":{"b":[{"__proto__":1}]}}'), { message: /__proto__/ }, 'nested')
  t.throws(() => parseStrictJson('{"\\u005f_proto__":1}'), { message: /__proto__/ }, 'escaped')
  t.same(parseStrictJson('{"constructor":{"prototype":1},"v":"__proto__"}'), { constructor: { prototype: 1 }, v: '__proto__' }, 'only the key is refused (Fastify default)')
  t.equal(({} as Record<string, unknown>).polluted, undefined)
})

t.test('float-formatted literals are reported with their path', async (t) => {
  const text = '{"a":1.5,"b":[1,2e3,3E-2],"c":{"d":-0},"e":"1.5e3 and -0 in a string","f":true,"g":false,"h":10,"i":-10,"j":0}'
  const { floats } = parseStrictJsonDetailed(text)
  t.same(floats.map((f) => f.path), [['a'], ['b', ARRAY_ITEM], ['c', 'd']])
  t.equal(text[floats[0]?.offset as number], '1', 'offset points into the literal')
  t.same(parseStrictJsonDetailed('{"a":[1.5,2.5,{"x":1},3.5,[4.5]]}').floats.map((f) => f.path), [['a', ARRAY_ITEM], ['a', ARRAY_ITEM, ARRAY_ITEM]], 'one report per path')
  t.same(parseStrictJsonDetailed('1.0').floats.map((f) => f.path), [[]], 'top-level number')
  t.same(parseStrictJsonDetailed('{"a":-0.0}').floats.map((f) => f.path), [['a']])
  t.same(parseStrictJsonDetailed('{"a":"2025-06-01T12:00:00.000+00:00","b":"1e3"}').floats, [], 'dates and numbers inside strings are not literals')
  t.same(parseStrictJsonDetailed('{"x":"\\\\","y":1.5}').floats.map((f) => f.path), [['y']], 'string ending in an escaped backslash')
  t.same(parseStrictJsonDetailed('{"a":{"b":1},"c":2.0}').floats.map((f) => f.path), [['c']], 'path follows the latest key')
})

t.test('float paths deep down, and under sibling keys', async (t) => {
  const deep = `${'{"a":['.repeat(40)}1.5,{"k":2.5,"j":[3.5]}${']}'.repeat(40)}`
  const prefix: Array<string | number> = Array.from({ length: 40 }, () => ['a', ARRAY_ITEM]).flat()
  const { floats } = parseStrictJsonDetailed(deep + ' '.repeat(SHORT_PAD))
  t.same(floats.map((f) => f.path), [prefix, [...prefix, 'k'], [...prefix, 'j', ARRAY_ITEM]], 'long text')
  t.same(parseStrictJsonDetailed(deep).floats.map((f) => f.path), floats.map((f) => f.path), 'short text')
  t.equal(deep[floats[2]?.offset as number], '3', 'offset of the first literal at the path')
  const siblings = '{"a":{"x":1.5},"b":{"x":2.5},"a2":{"y":[{"x":0.5},{"x":1e3}]}}'
  t.same(parseStrictJsonDetailed(siblings).floats.map((f) => f.path), [['a', 'x'], ['b', 'x'], ['a2', 'y', ARRAY_ITEM, 'x']], 'a new key is a new path')
})

t.test(`nesting deeper than ${MAX_NESTING_DEPTH} levels is refused, as serde_json does`, async (t) => {
  t.equal(MAX_NESTING_DEPTH, 127, 'serde_json refuses the 128th level')
  const arrays = (n: number): string => `${'['.repeat(n)}${']'.repeat(n)}`
  const objects = (n: number): string => `${'{"a":'.repeat(n - 1)}{}${'}'.repeat(n - 1)}`
  for (const [name, nest] of [['arrays', arrays], ['objects', objects]] as const) {
    for (const pad of [0, SHORT_PAD]) {
      const text = (n: number): string => nest(n) + ' '.repeat(pad)
      t.ok(parseStrictJson(text(MAX_NESTING_DEPTH)), `${name}, ${MAX_NESTING_DEPTH} levels, ${pad === 0 ? 'short' : 'long'} text`)
      t.throws(() => parseStrictJson(text(MAX_NESTING_DEPTH + 1)), { ...PROTOCOL_ERROR, message: /^Protocol error: nesting deeper than 127 levels \(serde_json's recursion limit\)$/ })
    }
  }
  t.throws(() => parseStrictJson(arrays(100_000)), { message: /nesting deeper than 127 levels/ }, 'far deeper, refused in linear time')
  t.ok(parseStrictJson(`[${arrays(MAX_NESTING_DEPTH - 1).repeat(3).replace(/\]\[/g, '],[')}]`), 'the depth is that of the open containers, not a count of them')
})

t.test('lone surrogates are refused', async (t) => {
  t.throws(() => parseStrictJson('{"op":"secret","value":"\\ud83d"}'), { ...PROTOCOL_ERROR, message: /field `value`: string contains a lone surrogate/ })
  t.throws(() => parseStrictJson('{"a":["ok","\\uDE00x"]}'), { message: /field `a\[1\]`: string contains a lone surrogate/ }, 'low half, upper-case escape, in an array')
  t.throws(() => parseStrictJson('{"\\ud800":1}'), { message: /key contains a lone surrogate/ })
  t.throws(() => parseStrictJson('"\\ud800"'), { message: /^Protocol error: string contains a lone surrogate/ }, 'top-level string')
  t.throws(() => parseStrictJson('{"a":"\ud83d"}'), { message: /lone surrogate/ }, 'raw lone surrogate in the JS string')
  t.same(parseStrictJson('{"v":"\\ud83d\\ude00 ok","n":[1,2,{"k":"\\u00e9"}]}'), { v: '😀 ok', n: [1, 2, { k: 'é' }] }, 'a surrogate pair is fine')
  t.same(parseStrictJson('{"v":"\\\\ud83d"}'), { v: '\\ud83d' }, 'an escaped backslash followed by ud83d is text')
  t.throws(() => parseStrictJson('{"a":[{"b":"x"},{"c":["ok",{"d":1}],"e":["ok","\\udfff"]}]}'), { message: /field `a\[1\]\.e\[1\]`: string contains/ }, 'the path left by earlier siblings is unwound')
  const deep = `${'['.repeat(MAX_NESTING_DEPTH - 1)}["a","\\ud800"]${']'.repeat(MAX_NESTING_DEPTH - 1)}`
  t.throws(() => parseStrictJson(deep), { message: new RegExp(`field \`(\\[0\\]){${MAX_NESTING_DEPTH - 1}}\\[1\\]\`: string contains`) }, 'at the deepest level allowed')
})

t.test('syntax errors do not quote the input', async (t) => {
  for (const text of ['{"secret": hunter2}', '{"secret":"hunter2" x}', '{"secret":"hunter2"', '{"op":"heartbeat"}{"op":"shutdown"}', '', '   \t']) {
    const err = t.throws(() => parseStrictJson(text), { code: 'FST_PYWATT_PROTOCOL' }, JSON.stringify(text)) as Error
    t.match(err.message, /^Protocol error: invalid JSON \(/)
    t.notMatch(err.message, /hunter2|heartbeat/)
  }
  t.throws(() => parseStrictJson('{"a":1}x'), { message: /at position 7/ })
})

t.test('formatPath and pathAtOffset', async (t) => {
  t.equal(formatPath([]), '')
  t.equal(formatPath(['a', 0, 'b']), 'a[0].b')
  t.equal(formatPath(['body', ARRAY_ITEM]), 'body[]')
  t.equal(formatPath(['env', 'MY KEY']), 'env["MY KEY"]')
  t.equal(formatPath(['x y', 'z']), '["x y"].z')
  t.equal(formatPath(['content-type']), 'content-type')
  const text = '{"a":[1,{"b":[5,6.0]}],"s":"[{,"}'
  t.same(pathAtOffset(text, text.indexOf('6.0')), ['a', 1, 'b', 1])
  t.same(pathAtOffset(text, text.indexOf('"s"') + 4), ['s'])
})

t.test('short and long texts are scanned to the same result (property test over random documents)', async (t) => {
  // A seeded generator, so a failure replays.
  let seed = 20261127
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return (seed >>> 8) % n
  }
  const numbers = ['0', '-0', '7', '-12', '255', '1.5', '-0.0', '2e3', '1E-2', '-3.25e+4', '0.1']
  const strings = ['"a"', '"op"', '"x\\"y"', '"\\\\"', '"\\u006fp"', '"}{[]:,"', '"1.5e3"', '"-0"', '""']
  const keys = ['"a"', '"b"', '"op"', '"\\u006fp"', '"k\\\\"', '"__proto__"', '"1.5"']
  const value = (depth: number): string => {
    const kind = depth > 3 ? rnd(4) : rnd(6)
    if (kind === 0) return numbers[rnd(numbers.length)] as string
    if (kind === 1) return strings[rnd(strings.length)] as string
    if (kind === 2) return ['true', 'false', 'null'][rnd(3)] as string
    if (kind === 3) return numbers[rnd(numbers.length)] as string
    const blank = (): string => [' ', '', '\n', ''][rnd(4)] as string
    if (kind === 4) return `[${Array.from({ length: rnd(4) }, () => blank() + value(depth + 1) + blank()).join(',')}]`
    // Keys may repeat (duplicates) or be __proto__ now and then, to compare the errors too.
    const count = rnd(4)
    const used = new Set<string>()
    const members: string[] = []
    for (let i = 0; i < count; i++) {
      let key = keys[rnd(keys.length)] as string
      if (used.has(key) && rnd(3) !== 0) key = `"m${i}"`
      if (key === '"__proto__"' && rnd(4) !== 0) key = `"p${i}"`
      used.add(key)
      members.push(`${key}${blank()}:${blank()}${value(depth + 1)}`)
    }
    return `{${members.join(',')}}`
  }
  const outcome = (text: string): unknown => {
    try {
      return parseStrictJsonDetailed(text).floats
    } catch (err) {
      return (err as Error).message
    }
  }
  let compared = 0
  let floats = 0
  let errors = 0
  for (let i = 0; i < 3000; i++) {
    const text = value(0)
    if (text.length > 2000) continue
    const short = outcome(text)
    // Trailing blanks push the same document past the short-text limit.
    const long = outcome(text + ' '.repeat(2100))
    if (typeof short === 'string') errors++
    else if ((short as unknown[]).length > 0) floats++
    if (JSON.stringify(short) !== JSON.stringify(long)) {
      t.fail(`${text} → short ${JSON.stringify(short)}, long ${JSON.stringify(long)}`)
      return
    }
    compared++
  }
  t.ok(compared > 2500, `${compared} documents compared`)
  t.ok(floats > 100 && errors > 100, `both outcomes exercised: ${floats} with floats, ${errors} rejected`)
})
