import { ERR_PYWATT_PROTOCOL } from '../errors.js'

/**
 * JSON parsing with the strictness serde_json has and `JSON.parse` lacks
 * (PROTOCOL.md §2): duplicate keys are errors, lone surrogate escapes are
 * errors, and the spelling of number literals is kept, because Rust rejects
 * `4102.0` and `1e3` where it expects an integer while `JSON.parse` turns both
 * into integral numbers.
 */

/** Marks an array level in a {@link FloatLiteral.path}: some element, index not tracked (they share one schema). */
export const ARRAY_ITEM = -1

/** One path segment: an object key, or {@link ARRAY_ITEM} for "some element of an array". */
export type PathSegment = string | typeof ARRAY_ITEM

/** A number literal written with a fraction or an exponent (or `-0`, which serde reads as a float). */
export interface FloatLiteral {
  /** Where the literal sits, from the top-level value down. */
  readonly path: readonly PathSegment[]
  /** Offset in the text of (the last integer digit of) the first such literal at this path. */
  readonly offset: number
}

/** The parsed value plus what the strict scan learnt about the text. */
export interface StrictJsonResult {
  readonly value: unknown
  /** One entry per distinct path holding a float-formatted literal; empty in the common case. */
  readonly floats: readonly FloatLiteral[]
}

interface ObjectFrame { keys: Set<string>, key: string }
// `null` is an array level: arrays have no keys to remember.
type Frame = ObjectFrame | null

// Structural characters only: a long array of numbers has none of them, so the
// scan jumps over it in one regex step.
const STRUCTURE = /[{}[\]"]/g
// A digit followed by `.`, `e` or `E` can only be a float literal when it sits
// outside a string; `-0` is a float for serde too. `true`/`false` contain `e`
// but never after a digit.
const FLOAT = /\d[.eE]|-0(?![.eE\d])/g
// Escapes that can encode a surrogate half; checked only when present.
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/

/**
 * Parse `text` strictly and return only the value.
 *
 * @throws ERR_PYWATT_PROTOCOL on invalid JSON, a duplicate key, a `__proto__`
 * key or a lone surrogate.
 */
export function parseStrictJson (text: string): unknown {
  return parseStrictJsonDetailed(text).value
}

/**
 * Parse `text` strictly and also report where float-formatted number literals
 * occur, so that a decoder can reject them in integer fields.
 *
 * @throws ERR_PYWATT_PROTOCOL on invalid JSON, a duplicate key, a `__proto__`
 * key or a lone surrogate.
 */
export function parseStrictJsonDetailed (text: string): StrictJsonResult {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new ERR_PYWATT_PROTOCOL(describeSyntaxError(err as Error))
  }
  // The scan relies on the text being valid JSON, so it runs only after the parse.
  const floats = text.length <= SHORT_TEXT ? scanShort(text) : scanStructure(text)
  if (text.indexOf('\\u') !== -1 && SURROGATE_ESCAPE.test(text)) checkWellFormed(value, [])
  else if (!isWellFormed(text)) checkWellFormed(value, [])
  return { value, floats }
}

/**
 * Render a path for an error message: ``body[3]``, ``tcp_channel.address``,
 * ``env["MY KEY"]``. Array wildcards render as `[]`.
 */
export function formatPath (path: readonly (string | number)[]): string {
  let out = ''
  for (const seg of path) {
    if (typeof seg === 'number') out += seg === ARRAY_ITEM ? '[]' : `[${seg}]`
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(seg)) out += out === '' ? seg : `.${seg}`
    else out += `[${JSON.stringify(truncate(seg))}]`
  }
  return out
}

/**
 * The exact path (with array indices) of the value at `offset` in a valid JSON
 * text. Slow but simple; used only to word an error message.
 */
export function pathAtOffset (text: string, offset: number): Array<string | number> {
  const stack: Array<{ key: string | number, array: boolean }> = []
  let i = 0
  while (i < offset) {
    const c = text.charCodeAt(i)
    if (c === 0x22) {
      const end = stringEnd(text, i + 1)
      const top = stack[stack.length - 1]
      if (top !== undefined && !top.array && isKeyAt(text, end + 1)) top.key = decodeKey(text, i, end)
      i = end + 1
      continue
    }
    if (c === 0x7b) stack.push({ key: '', array: false })
    else if (c === 0x5b) stack.push({ key: 0, array: true })
    else if (c === 0x7d || c === 0x5d) stack.pop()
    else if (c === 0x2c) {
      const top = stack[stack.length - 1]
      if (top?.array === true) top.key = (top.key as number) + 1
    }
    i++
  }
  return stack.map((f) => f.key)
}

function scanStructure (text: string): FloatLiteral[] {
  const floats: FloatLiteral[] = []
  let seenFloatPaths: Set<string> | undefined
  const stack: Frame[] = []
  let pos = 0
  let nextFloat = findFloat(text, 0)
  for (;;) {
    STRUCTURE.lastIndex = pos
    const match = STRUCTURE.exec(text)
    const tokenAt = match === null ? text.length : match.index
    // [pos, tokenAt) holds only numbers, literals, commas, colons and blanks.
    if (nextFloat < pos) nextFloat = findFloat(text, pos)
    if (nextFloat < tokenAt) {
      const path = stack.map((f) => f === null ? ARRAY_ITEM : f.key)
      const id = path.join('\u0000')
      seenFloatPaths ??= new Set()
      if (!seenFloatPaths.has(id)) {
        seenFloatPaths.add(id)
        floats.push({ path, offset: nextFloat })
      }
      // One report per gap is enough: everything in it shares the path.
      nextFloat = findFloat(text, tokenAt)
    }
    if (match === null) return floats
    const c = text.charCodeAt(tokenAt)
    if (c === 0x22) {
      const end = stringEnd(text, tokenAt + 1)
      if (isKeyAt(text, end + 1)) {
        // Only objects hold keys, so the top frame is an object here.
        const frame = stack[stack.length - 1] as ObjectFrame
        const key = decodeKey(text, tokenAt, end)
        if (key === '__proto__') throw new ERR_PYWATT_PROTOCOL('forbidden key `__proto__` (prototype poisoning)')
        if (frame.keys.has(key)) throw new ERR_PYWATT_PROTOCOL(`duplicate key \`${truncate(key)}\``)
        frame.keys.add(key)
        frame.key = key
      }
      pos = end + 1
    } else {
      if (c === 0x7b) stack.push({ keys: new Set(), key: '' })
      else if (c === 0x5b) stack.push(null)
      else stack.pop()
      pos = tokenAt + 1
    }
  }
}

/**
 * Up to this length a text is scanned one character at a time ({@link scanShort}):
 * no regex call per token, which is what dominates on a typical control line or
 * a small `http_request`. Longer texts are mostly long number arrays, which the
 * regex of {@link scanStructure} jumps over in one native step.
 */
const SHORT_TEXT = 2048

/**
 * {@link scanStructure} for short texts, with the same results: each object's
 * keys checked for duplicates and `__proto__`, and the first float-formatted
 * literal of every distinct path, at the offset the `FLOAT` pattern would give
 * (the last integer digit, or the `-` of `-0`).
 */
function scanShort (text: string): FloatLiteral[] {
  let floats: FloatLiteral[] | undefined
  let seenFloatPaths: Set<string> | undefined
  // One frame per open object (its keys so far) or array (`null`).
  const stack: Array<Set<string> | null> = []
  const keyOf: string[] = []
  const n = text.length
  let i = 0
  while (i < n) {
    const c = text.charCodeAt(i)
    if (c === 0x22) {
      const end = stringEnd(text, i + 1)
      if (isKeyAt(text, end + 1)) {
        const keys = stack[stack.length - 1] as Set<string>
        const key = decodeKey(text, i, end)
        if (key === '__proto__') throw new ERR_PYWATT_PROTOCOL('forbidden key `__proto__` (prototype poisoning)')
        if (keys.has(key)) throw new ERR_PYWATT_PROTOCOL(`duplicate key \`${truncate(key)}\``)
        keys.add(key)
        keyOf[stack.length - 1] = key
      }
      i = end + 1
    } else if (c === 0x7b) {
      stack.push(new Set())
      i++
    } else if (c === 0x5b) {
      stack.push(null)
      i++
    } else if (c === 0x7d || c === 0x5d) {
      stack.pop()
      i++
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      // A number literal: integer digits, then a fraction or an exponent makes it a float.
      const start = i
      if (c === 0x2d) i++
      const digits = i
      while (i < n && isDigit(text.charCodeAt(i))) i++
      const next = i < n ? text.charCodeAt(i) : 0
      let at = -1
      if (next === 0x2e || next === 0x65 || next === 0x45) at = i - 1
      else if (c === 0x2d && i - digits === 1 && text.charCodeAt(digits) === 0x30) at = start
      if (at !== -1) {
        const path = stack.map((f, d) => f === null ? ARRAY_ITEM : keyOf[d] as string)
        const id = path.join('\u0000')
        seenFloatPaths ??= new Set()
        if (!seenFloatPaths.has(id)) {
          seenFloatPaths.add(id)
          ;(floats ??= []).push({ path, offset: at })
        }
      }
      // The rest of the literal (fraction, exponent) holds no structure.
      while (i < n && isNumberPart(text.charCodeAt(i))) i++
    } else {
      i++
    }
  }
  return floats ?? []
}

function isDigit (c: number): boolean {
  return c >= 0x30 && c <= 0x39
}

function isNumberPart (c: number): boolean {
  return isDigit(c) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d
}

function findFloat (text: string, from: number): number {
  FLOAT.lastIndex = from
  const m = FLOAT.exec(text)
  return m === null ? Infinity : m.index
}

/** Index of the closing quote of the string whose content starts at `from`. */
function stringEnd (text: string, from: number): number {
  let i = from
  for (;;) {
    const q = text.indexOf('"', i)
    let b = q - 1
    while (text.charCodeAt(b) === 0x5c) b--
    // An even run of backslashes escapes only itself, not the quote.
    if ((q - 1 - b) % 2 === 0) return q
    i = q + 1
  }
}

/** Whether the string that ended just before `at` is followed by `:` (i.e. is a key). */
function isKeyAt (text: string, at: number): boolean {
  let i = at
  let c = text.charCodeAt(i)
  while (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) c = text.charCodeAt(++i)
  return c === 0x3a
}

function decodeKey (text: string, open: number, close: number): string {
  const raw = text.slice(open + 1, close)
  // Escaped spellings of the same key (`"\u006fp"` vs `"op"`) must collide.
  return raw.indexOf('\\') === -1 ? raw : JSON.parse(text.slice(open, close + 1)) as string
}

function checkWellFormed (value: unknown, path: Array<string | number>): void {
  if (typeof value === 'string') {
    if (!isWellFormed(value)) throw new ERR_PYWATT_PROTOCOL(`${where(path)}string contains a lone surrogate (invalid \\u escape)`)
  } else if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      if (typeof value[i] === 'object' || typeof value[i] === 'string') checkWellFormed(value[i], [...path, i])
    }
  } else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      if (!isWellFormed(k)) throw new ERR_PYWATT_PROTOCOL(`${where(path)}key contains a lone surrogate (invalid \\u escape)`)
      checkWellFormed(v, [...path, k])
    }
  }
}

function where (path: Array<string | number>): string {
  return path.length === 0 ? '' : `field \`${formatPath(path)}\`: `
}

// `isWellFormed` is ES2024 and missing from the ES2023 lib typings, but present
// on every Node version the package supports (>= 20).
function isWellFormed (s: string): boolean {
  return (s as unknown as { isWellFormed: () => boolean }).isWellFormed()
}

function describeSyntaxError (err: Error): string {
  // V8 quotes a slice of the input in some messages; that slice could hold a
  // secret, so keep only the wording before it (which holds the position, when V8 gives one).
  const quote = err.message.indexOf('"')
  const wording = (quote === -1 ? err.message : err.message.slice(0, quote)).replace(/[,\s]+$/, '')
  return `invalid JSON (${wording})`
}

/** Shorten attacker-controlled text that ends up in an error message. */
export function truncate (s: string, max = 64): string {
  return s.length <= max ? s : `${s.slice(0, max)}…`
}
