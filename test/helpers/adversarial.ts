import { performance } from 'node:perf_hooks'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { Test } from 'tap'
import { MAX_NESTING_DEPTH } from '../../lib/protocol/index.js'

/**
 * Hostile JSON shapes for the decoders' complexity tests, and the measures
 * those tests compare: a decoder against a plain `JSON.parse` of the same
 * bytes, and the same decoder at one size against eight times that size
 * (linear work grows 8×, quadratic work 64×).
 */

/** A JSON value of about `bytes` characters, to be put under an ignored key of a message. */
export type Shape = (bytes: number) => string

/** The deepest a shape nests: what the cap leaves under an envelope and a message object. */
export const SHAPE_DEPTH = MAX_NESTING_DEPTH - 2

/** `[1.5,[1.5,[…]]]`, as deep as `bytes` allows: far over the cap from about 770 bytes on. */
export const nestedFloats: Shape = (bytes) => {
  const depth = Math.max(1, Math.floor((bytes - 3) / 6))
  return `${'[1.5,'.repeat(depth)}1.5${']'.repeat(depth)}`
}

/** The same nesting kept under the cap, repeated: every element of every level a float. */
export const nestedFloatsUnderCap: Shape = (bytes) => repeat(bytes, `${'[1.5,'.repeat(SHAPE_DEPTH - 1)}1.5${']'.repeat(SHAPE_DEPTH - 1)}`)

/** Objects and arrays nested as deep as the cap allows, repeated (no floats): pushes and pops only. */
export const deepContainers: Shape = (bytes) => {
  const pairs = Math.floor((SHAPE_DEPTH - 1) / 2)
  return repeat(bytes, `${'{"a":['.repeat(pairs)}0${']}'.repeat(pairs)}`)
}

/** One long array of floats. */
export const floatArray: Shape = (bytes) => `[${list(bytes, (i) => `${i % 1000}.25`)}]`

/** One object of many distinct keys. */
export const manyKeys: Shape = (bytes) => `{${list(bytes, (i) => `"k${i}":${i}`)}}`

/** Many distinct keys, each holding a float, at the bottom of a chain as deep as the cap allows. */
export const manyKeysDeepFloats: Shape = (bytes) => {
  const chain = SHAPE_DEPTH - 1
  return `${'{"a":'.repeat(chain)}{${list(bytes - 6 * chain, (i) => `"k${i}":1.5`)}}${'}'.repeat(chain)}`
}

/** Many small objects with the same keys (and the same keys escaped): duplicates only across objects. */
export const duplicateProneKeys: Shape = (bytes) => repeat(bytes, '{"id":1,"\\u0069d2":2,"name":"n","\\u006eame2":"m","v":0.5}')

/** One long string of escapes, escaped quotes and runs of backslashes. */
export const escapedString: Shape = (bytes) => `"${'\\"\\\\\\n\\u00e9\\\\\\\\x\\/'.repeat(Math.floor(bytes / 20))}"`

/** Many strings at the bottom of a chain as deep as the cap allows, the last one a lone surrogate. */
export const deepLoneSurrogate: Shape = (bytes) => {
  const chain = SHAPE_DEPTH - 1
  return `${'['.repeat(chain)}[${list(bytes - 2 * chain, () => '"ab"')},"\\ud800"]${']'.repeat(chain)}`
}

/** Every shape but {@link nestedFloats}, which is measured on its own sizes (36 KB, 72 KB, 1 MB). */
export const SHAPES: Record<string, Shape> = {
  nestedFloatsUnderCap, deepContainers, floatArray, manyKeys, manyKeysDeepFloats, duplicateProneKeys, escapedString, deepLoneSurrogate
}

/** `unit` repeated as the elements of one array, to about `bytes` characters. */
function repeat (bytes: number, unit: string): string {
  return `[${list(bytes, () => unit)}]`
}

/** Items `item(0)`, `item(1)`, … joined by commas, to about `bytes` characters (at least one item). */
function list (bytes: number, item: (i: number) => string): string {
  const items: string[] = []
  let length = 0
  do {
    const next = item(items.length)
    items.push(next)
    length += next.length + 1
  } while (length < bytes)
  return items.join(',')
}

/** Arrays nested `depth` levels deep (`[[…[0]…]]`). */
export function nestedArrays (depth: number): string {
  return `${'['.repeat(depth)}0${']'.repeat(depth)}`
}

// tap starts test processes without `--expose-gc`; the flag can still be set
// at run time, and a fresh context then gets a `gc` global.
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

/** Wall time of one call in milliseconds, from a collected heap; a throw counts as a return. */
function timeOnce (fn: () => unknown): number {
  gc()
  const start = performance.now()
  try {
    fn()
  } catch {}
  return performance.now() - start
}

// Holds what the measured call returned until the measure is taken.
const kept: unknown[] = []

/**
 * Heap growth, in bytes, across one call after a full collection: what the call
 * keeps plus the garbage it made that is still uncollected. Linear work can
 * only allocate linearly, so the growth is bounded even when no GC runs.
 */
export function heapGrowth (fn: () => unknown): number {
  gc()
  const before = process.memoryUsage().heapUsed
  try {
    kept.push(fn())
  } catch (err) {
    kept.push(err)
  }
  const growth = process.memoryUsage().heapUsed - before
  kept.length = 0
  return growth
}

/**
 * Limits of {@link checkLinear}: generous, because the tests share two noisy
 * cores and a collection can land in any measure; still far below what the
 * quadratic scan took (a 36 KB line: about 1 700× JSON.parse).
 */
export const LIMITS = {
  /** A decoder may take this many times as long as `JSON.parse` of the same text… */
  timeFactor: 20,
  /** …plus this many milliseconds. */
  timeSlack: 40,
  /** From n to 8n characters, time may grow this many times (linear: 8, quadratic: 64)… */
  growthFactor: 24,
  /** …plus this many milliseconds. */
  growthSlack: 40,
  /** Heap growth may be this many times that of `JSON.parse` of the same text… */
  heapFactor: 4,
  /** …plus this many bytes per character of the text. */
  heapPerChar: 16
}

/**
 * Timed runs of each measure. The fastest is kept: on a shared machine noise
 * only ever adds time, and no amount of luck makes quadratic work fast.
 */
const RUNS = 3

/**
 * Check that `decode` runs in time and memory linear in the text's size, on
 * texts of about `small` and `8 × small` characters built by `build`. The
 * decoder and `JSON.parse`, at both sizes, are timed in turn, so that a burst
 * of load from elsewhere hits all four measures alike.
 *
 * @param build the input as the decoder takes it, and its JSON text for the `JSON.parse` baseline
 */
export function checkLinear<T> (t: Test, name: string, small: number, build: (bytes: number) => { input: T, json: string }, decode: (input: T) => unknown): void {
  const cases = [small, 8 * small].map((size) => ({ ...build(size), base: [] as number[], time: [] as number[] }))
  const large = cases[1] as { input: T, json: string }
  // Warm up on the larger text, so that no measure is taken on cold code.
  timeOnce(() => decode(large.input))
  for (let run = 0; run < RUNS; run++) {
    for (const c of cases) {
      c.base.push(timeOnce(() => JSON.parse(c.json)))
      c.time.push(timeOnce(() => decode(c.input)))
    }
  }
  const [atN, at8N] = cases.map(({ json, base, time }) => {
    const [b, d] = [Math.min(...base), Math.min(...time)]
    t.ok(d <= LIMITS.timeFactor * b + LIMITS.timeSlack, `${name}, ${json.length} chars: ${d.toFixed(1)} ms, JSON.parse ${b.toFixed(1)} ms (×${(d / b).toFixed(1)})`)
    return d
  }) as [number, number]
  t.ok(at8N <= LIMITS.growthFactor * atN + LIMITS.growthSlack,
    `${name}: 8× the size takes ${(at8N / atN).toFixed(1)}× the time (${atN.toFixed(1)} → ${at8N.toFixed(1)} ms)`)
  const baseHeap = heapGrowth(() => JSON.parse(large.json))
  const heap = heapGrowth(() => decode(large.input))
  t.ok(heap <= LIMITS.heapFactor * Math.max(baseHeap, 0) + LIMITS.heapPerChar * large.json.length,
    `${name}, ${large.json.length} chars: heap +${mib(heap)} MiB, JSON.parse +${mib(baseHeap)} MiB`)
}

function mib (bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1)
}

/** A protocol error as `t.throws` matches it. */
export interface Refusal { code: string, message: RegExp }

/** The refusal of nesting over the cap. */
export const DEPTH_REFUSAL: Refusal = { code: 'FST_PYWATT_PROTOCOL', message: new RegExp(`nesting deeper than ${MAX_NESTING_DEPTH} levels`) }

/** The refusal of {@link deepLoneSurrogate}, naming the field: the last string of the innermost array. */
export const SURROGATE_REFUSAL: Refusal = {
  code: 'FST_PYWATT_PROTOCOL',
  message: new RegExp(`field \`[a-z.]*(\\[0\\]){${SHAPE_DEPTH - 1}}\\[\\d+\\]\`: string contains a lone surrogate`)
}

/** A decoder under test, and how a hostile value reaches it. */
export interface Decoder<T> {
  /** The message text with the hostile value `x` under an ignored key. */
  wrap: (x: string) => string
  /** The levels of nesting `wrap` puts around `x`. */
  depth: number
  /** The text as the decoder takes it. */
  input: (text: string) => T
  decode: (input: T) => unknown
  /** How a refusal shows: by default, the decoder throws it. */
  refuses?: (t: Test, input: T, expected: Refusal, name: string) => void
}

/**
 * The complexity checks of one decoder: nesting just at and just over the cap,
 * every shape of `shapes` decoded (or refused, for the lone surrogate) in
 * linear time and memory, and the nested floats that once took quadratic time
 * refused at every size, from 36 KB to 1 MB.
 *
 * @param small n of the n-to-8n comparison, in characters
 */
export function checkDecoder<T> (t: Test, decoder: Decoder<T>, small: number, shapes: Record<string, Shape> = SHAPES): void {
  const refuses = decoder.refuses ?? ((t, input, expected, name) => { t.throws(() => decoder.decode(input), expected, `${name}: refused`) })
  const build = (shape: Shape) => (bytes: number): { input: T, json: string } => {
    const json = decoder.wrap(shape(bytes))
    return { input: decoder.input(json), json }
  }
  const nested = (levels: number): T => decoder.input(decoder.wrap(nestedArrays(levels - decoder.depth)))
  t.ok(decoder.decode(nested(MAX_NESTING_DEPTH)), `nesting of ${MAX_NESTING_DEPTH} levels: decoded`)
  refuses(t, nested(MAX_NESTING_DEPTH + 1), DEPTH_REFUSAL, `nesting of ${MAX_NESTING_DEPTH + 1} levels`)
  for (const [name, shape] of Object.entries(shapes)) {
    const { input } = build(shape)(small)
    if (shape === deepLoneSurrogate) refuses(t, input, SURROGATE_REFUSAL, name)
    else t.ok(decoder.decode(input), `${name}: decoded`)
    checkLinear(t, name, small, build(shape), decoder.decode)
  }
  // The measured example: a 36 KB line once delayed the next heartbeat ack by 1.85 s; 72 KB ran out of memory.
  for (const bytes of [36_000, 72_000, 1_000_000]) {
    const { input, json } = build(nestedFloats)(bytes)
    refuses(t, input, DEPTH_REFUSAL, `nested floats, ${json.length} chars`)
  }
  checkLinear(t, 'nestedFloats', small, build(nestedFloats), decoder.decode)
}
