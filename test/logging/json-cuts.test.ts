import t from 'tap'
import { valueStringCuts } from '../../lib/logging/json-cuts.js'

function cutsOf (text: string): number[] | null {
  const cuts = new Int32Array(text.length + 1)
  return valueStringCuts(text, cuts) ? [...cuts] : null
}

t.test('positions bounding string values get the value index; keys, numbers, literals and structure get -1', async (t) => {
  const text = '{"k":"ab","n":12,"t":true,"l":["c",null]}'
  const cuts = cutsOf(text) as number[]
  const marked = (id: number): number[] => cuts.flatMap((c, i) => c === id ? [i] : [])
  t.same(marked(0), [text.indexOf('ab'), text.indexOf('ab') + 1, text.indexOf('ab') + 2], 'both ends and between: a, b')
  t.same(marked(1), [text.indexOf('c"'), text.indexOf('c"') + 1])
  t.same(marked(2), [], 'keys are not counted')
  t.equal(cuts.filter((c) => c !== -1).length, 5)
})

t.test('escape sequences are atomic', async (t) => {
  const text = '{"m":"a\\nb\\u00e9c\\\\"}'
  const cuts = cutsOf(text) as number[]
  const content = text.indexOf('a')
  const inside = (from: number, len: number): number[] => cuts.slice(content + from, content + from + len)
  t.same(inside(0, 2), [0, 0], 'before a, before \\n')
  t.same(inside(2, 1), [-1], 'inside \\n')
  t.same(inside(3, 2), [0, 0], 'before b, before \\u00e9')
  t.same(inside(5, 5), [-1, -1, -1, -1, -1], 'inside \\u00e9')
  t.same(inside(10, 2), [0, 0], 'before c, before \\\\')
  t.same(inside(12, 2), [-1, 0], 'inside \\\\, then the end of the content')
})

t.test('whitespace before a colon still makes a key', async (t) => {
  const cuts = cutsOf('{ "key" :\n "value" }') as number[]
  t.same(cuts.filter((c) => c !== -1), [0, 0, 0, 0, 0, 0])
})

t.test('not JSON at the token level', async (t) => {
  t.equal(cutsOf('{"a":1, oops}'), null, 'a stray character outside strings')
  t.equal(cutsOf('{"a":"open'), null, 'an unterminated string')
  t.equal(cutsOf('{"a":"\\x"}'), null, 'a bad escape')
  t.equal(cutsOf('{"a":"\\u12G4"}'), null, 'a bad \\u escape')
  t.equal(cutsOf('{"a":"\\u12"}'), null, 'a cut-short \\u escape')
  t.equal(cutsOf('{"a":"ends with a backslash\\'), null)
  t.same(cutsOf('{"a":[1.5e-3,-2,true,false,null]}')?.every((c) => c === -1), true, 'numbers and literals are JSON')
})
