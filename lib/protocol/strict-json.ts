import { ERR_PYWATT_PROTOCOL } from '../errors.js'

/**
 * JSON parsing with the strictness serde_json has and `JSON.parse` lacks
 * (docs/protocol.md §2.2): duplicate keys are errors, lone surrogate escapes are
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
  /**
   * One entry per distinct path holding a float-formatted literal, in text
   * order; empty in the common case. Each `path` is made when read, at a cost
   * of its depth, which the decoders never pay (they walk {@link StrictJsonScan.floatTree}).
   */
  readonly floats: readonly FloatLiteral[]
}

/**
 * The deepest nesting of arrays and objects accepted (the top-level container
 * is level 1). serde_json refuses the 128th level ("recursion limit
 * exceeded"), so a Rust module refuses deeper input too; the cap also bounds
 * the work of everything that walks a path.
 */
export const MAX_NESTING_DEPTH = 127

/**
 * A node of the tree of paths under which float-formatted literals sit: each
 * distinct path is stored once, sharing its prefix with its siblings, so the
 * tree costs one node per key or array on the way to a float, whatever the depth.
 */
export class FloatPath {
  /** Offset of the first float literal exactly at this path; -1 for a node only on the way to one. */
  offset = -1
  /** Deeper paths holding floats, by segment; created on first use. */
  children: Map<PathSegment, FloatPath> | undefined

  constructor (readonly parent: FloatPath | null, readonly segment: PathSegment) {}

  /** The node one segment deeper, created on first use. */
  child (segment: PathSegment): FloatPath {
    this.children ??= new Map()
    let node = this.children.get(segment)
    if (node === undefined) {
      node = new FloatPath(this, segment)
      this.children.set(segment, node)
    }
    return node
  }

  /** The segments from the top-level value down to this node (the root has none). */
  path (): PathSegment[] {
    const out: PathSegment[] = []
    for (let node: FloatPath = this; node.parent !== null; node = node.parent) out.push(node.segment)
    return out.reverse()
  }
}

/** {@link StrictJsonResult} with the float paths as a tree, for the decoders. */
export interface StrictJsonScan extends StrictJsonResult {
  /** The text parsed, where error messages find a float literal's exact path. */
  readonly text: string
  /** The path of the top-level value, or `null` when the text holds no float literal. */
  readonly floatTree: FloatPath | null
}

class Scan implements StrictJsonScan {
  readonly #found: readonly FloatPath[]
  #floats: FloatLiteral[] | undefined

  constructor (readonly text: string, readonly value: unknown, readonly floatTree: FloatPath | null, found: readonly FloatPath[]) {
    this.#found = found
  }

  get floats (): readonly FloatLiteral[] {
    this.#floats ??= this.#found.map(floatLiteral)
    return this.#floats
  }
}

/** A path is made on each read: kept, paths would cost their depth each, which is up to the reader. */
function floatLiteral (node: FloatPath): FloatLiteral {
  return { offset: node.offset, get path () { return node.path() } }
}

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
 * key, a lone surrogate or nesting deeper than {@link MAX_NESTING_DEPTH}.
 */
export function parseStrictJson (text: string): unknown {
  return parseStrictJsonDetailed(text).value
}

/**
 * Parse `text` strictly and also report where float-formatted number literals
 * occur, so that a decoder can reject them in integer fields.
 *
 * @throws ERR_PYWATT_PROTOCOL on invalid JSON, a duplicate key, a `__proto__`
 * key, a lone surrogate or nesting deeper than {@link MAX_NESTING_DEPTH}.
 */
export function parseStrictJsonDetailed (text: string): StrictJsonResult {
  return scanStrictJson(text)
}

/**
 * {@link parseStrictJsonDetailed} for the decoders: time and memory linear in
 * the length of `text`, whatever its shape.
 *
 * @throws ERR_PYWATT_PROTOCOL as {@link parseStrictJsonDetailed} does
 */
export function scanStrictJson (text: string): StrictJsonScan {
  let value: unknown
  try {
    // V8's JSON.parse is iterative and linear even on deep input, so the depth
    // cap can wait for the scan below.
    value = JSON.parse(text)
  } catch (err) {
    throw new ERR_PYWATT_PROTOCOL(describeSyntaxError(err as Error))
  }
  // The scan relies on the text being valid JSON, so it runs only after the parse.
  const structure = new Structure()
  if (text.length <= SHORT_TEXT) scanShort(text, structure)
  else scanStructure(text, structure)
  // Runs after the scan, which has bounded the depth it recurses to.
  if (text.indexOf('\\u') !== -1 && SURROGATE_ESCAPE.test(text)) checkWellFormed(value, [])
  else if (!isWellFormed(text)) checkWellFormed(value, [])
  return new Scan(text, value, structure.root, structure.floats)
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

interface Frame {
  /** The keys seen so far in an object; `null` for an array. */
  keys: Set<string> | null
  /** The current key of an object; {@link ARRAY_ITEM} for an array. */
  segment: PathSegment
  /** The node of this frame's path, made when a float literal first sits under it. */
  node: FloatPath | null
}

/**
 * What both scans track: the open containers (checking each object's keys),
 * and the tree of paths holding float literals. Every step is O(1) amortised:
 * a float's path node is found from the nearest container that already has
 * one, and a container loses its node only when it is opened or its key changes.
 */
class Structure {
  root: FloatPath | null = null
  /** The nodes holding a float literal, in text order. */
  readonly floats: FloatPath[] = []
  /** One frame per level ever opened, reused: `#depth` of them are open. */
  readonly #stack: Frame[] = []
  #depth = 0

  open (object: boolean): void {
    if (this.#depth === MAX_NESTING_DEPTH) {
      throw new ERR_PYWATT_PROTOCOL(`nesting deeper than ${MAX_NESTING_DEPTH} levels (serde_json's recursion limit)`)
    }
    const keys = object ? new Set<string>() : null
    const frame = this.#stack[this.#depth]
    if (frame === undefined) {
      this.#stack.push({ keys, segment: ARRAY_ITEM, node: null })
    } else {
      frame.keys = keys
      frame.segment = ARRAY_ITEM
      frame.node = null
    }
    this.#depth++
  }

  close (): void {
    this.#depth--
  }

  /** A key of the innermost container, which is an object since only objects hold keys. */
  key (key: string): void {
    const frame = this.#stack[this.#depth - 1] as Frame
    const keys = frame.keys as Set<string>
    if (key === '__proto__') throw new ERR_PYWATT_PROTOCOL('forbidden key `__proto__` (prototype poisoning)')
    if (keys.has(key)) throw new ERR_PYWATT_PROTOCOL(`duplicate key \`${truncate(key)}\``)
    keys.add(key)
    frame.segment = key
    frame.node = null
  }

  /** A float-formatted literal at `offset`, in the innermost container (or at the top level). */
  float (offset: number): void {
    const node = this.#here()
    if (node.offset === -1) {
      node.offset = offset
      this.floats.push(node)
    }
  }

  #here (): FloatPath {
    const stack = this.#stack
    let d = this.#depth
    while (d > 0 && (stack[d - 1] as Frame).node === null) d--
    let node = d === 0 ? (this.root ??= new FloatPath(null, ARRAY_ITEM)) : (stack[d - 1] as Frame).node as FloatPath
    for (; d < this.#depth; d++) {
      const frame = stack[d] as Frame
      node = node.child(frame.segment)
      frame.node = node
    }
    return node
  }
}

function scanStructure (text: string, structure: Structure): void {
  let pos = 0
  let nextFloat = findFloat(text, 0)
  for (;;) {
    STRUCTURE.lastIndex = pos
    const found = STRUCTURE.test(text)
    // `test` makes no match array: the match is the one character before `lastIndex`.
    const tokenAt = found ? STRUCTURE.lastIndex - 1 : text.length
    // [pos, tokenAt) holds only numbers, literals, commas, colons and blanks.
    if (nextFloat < pos) nextFloat = findFloat(text, pos)
    if (nextFloat < tokenAt) {
      // One report per gap is enough: everything in it shares the path.
      structure.float(nextFloat)
      nextFloat = findFloat(text, tokenAt)
    }
    if (!found) return
    const c = text.charCodeAt(tokenAt)
    if (c === 0x22) {
      const end = stringEnd(text, tokenAt + 1)
      if (isKeyAt(text, end + 1)) structure.key(decodeKey(text, tokenAt, end))
      pos = end + 1
    } else {
      if (c === 0x7b) structure.open(true)
      else if (c === 0x5b) structure.open(false)
      else structure.close()
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
function scanShort (text: string, structure: Structure): void {
  const n = text.length
  let i = 0
  while (i < n) {
    const c = text.charCodeAt(i)
    if (c === 0x22) {
      const end = stringEnd(text, i + 1)
      if (isKeyAt(text, end + 1)) structure.key(decodeKey(text, i, end))
      i = end + 1
    } else if (c === 0x7b || c === 0x5b) {
      structure.open(c === 0x7b)
      i++
    } else if (c === 0x7d || c === 0x5d) {
      structure.close()
      i++
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      // A number literal: integer digits, then a fraction or an exponent makes it a float.
      const start = i
      if (c === 0x2d) i++
      const digits = i
      while (i < n && isDigit(text.charCodeAt(i))) i++
      const next = i < n ? text.charCodeAt(i) : 0
      if (next === 0x2e || next === 0x65 || next === 0x45) structure.float(i - 1)
      else if (c === 0x2d && i - digits === 1 && text.charCodeAt(digits) === 0x30) structure.float(start)
      // The rest of the literal (fraction, exponent) holds no structure.
      while (i < n && isNumberPart(text.charCodeAt(i))) i++
    } else {
      i++
    }
  }
}

function isDigit (c: number): boolean {
  return c >= 0x30 && c <= 0x39
}

function isNumberPart (c: number): boolean {
  return isDigit(c) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d
}

function findFloat (text: string, from: number): number {
  FLOAT.lastIndex = from
  // `test` makes no match array; both alternatives match two characters.
  return FLOAT.test(text) ? FLOAT.lastIndex - 2 : Infinity
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

/** `path` is one array pushed and popped along the walk, so each level costs O(1), not a copy. */
function checkWellFormed (value: unknown, path: Array<string | number>): void {
  if (typeof value === 'string') {
    if (!isWellFormed(value)) throw new ERR_PYWATT_PROTOCOL(`${where(path)}string contains a lone surrogate (invalid \\u escape)`)
  } else if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i]
      if (typeof item === 'object' || typeof item === 'string') {
        path.push(i)
        checkWellFormed(item, path)
        path.pop()
      }
    }
  } else if (typeof value === 'object' && value !== null) {
    for (const k of Object.keys(value)) {
      if (!isWellFormed(k)) throw new ERR_PYWATT_PROTOCOL(`${where(path)}key contains a lone surrogate (invalid \\u escape)`)
      path.push(k)
      checkWellFormed((value as Record<string, unknown>)[k], path)
      path.pop()
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
