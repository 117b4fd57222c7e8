/**
 * Value-based secret scrubbing for serialized log lines.
 *
 * pino's `redact` only censors listed paths; a secret interpolated into a message,
 * an error stack or an unlisted field leaks (docs/reliability.md H18). This registry
 * keeps every secret value it was given and replaces each of its encodings in the
 * final line, leftmost and longest match first, in a single pass. In a JSON line
 * (every pino line) only string values' content is replaced, so the line stays
 * valid JSON whatever the secret looks like.
 */

import { valueStringCuts } from './json-cuts.js'

/** The placeholder that replaces a secret. */
export const REDACTED = '[REDACTED]'

/**
 * Values shorter than this are not scrubbed by value: replacing a 1–3 character
 * string wherever it occurs would mangle ordinary log text.
 */
export const MIN_SECRET_LENGTH = 4

/**
 * The base64 characters that only the value's bits decide, when the value
 * starts `offset` bytes (0, 1 or 2) into a base64-encoded stream: what a
 * secret looks like inside `Basic base64(user:password)` or an encoded body,
 * whatever comes before and after it.
 */
function base64Core (bytes: Buffer, offset: number, alphabet: 'base64' | 'base64url'): string {
  const text = Buffer.concat([Buffer.alloc(offset), bytes]).toString(alphabet)
  const firstBit = offset * 8
  const endBit = firstBit + bytes.length * 8
  return text.slice(Math.ceil(firstBit / 6), Math.floor(endBit / 6))
}

/** Each code unit outside printable ASCII (and `<>&'` when `htmlSafe`) as `\uXXXX`, as JSON encoders that escape them write it. */
function unicodeEscaped (jsonEscaped: string, htmlSafe: boolean, upper: boolean): string {
  return jsonEscaped.replace(htmlSafe ? /[^\x20-\x7e]|[<>&']/g : /[^\x20-\x7e]/g, (c) => {
    const hex = c.charCodeAt(0).toString(16).padStart(4, '0')
    return `\\u${upper ? hex.toUpperCase() : hex}`
  })
}

/**
 * The encodings under which a secret value is searched for: as it is, in its
 * four Unicode normal forms, JSON-escaped (also with `\uXXXX` escapes),
 * base64 and base64url at each of the three byte alignments, hex, and
 * percent-encoded as URIs and forms write it (either case of hex digits).
 */
export function encodingsOf (value: string): string[] {
  const forms = new Set<string>()
  for (const text of new Set([value, value.normalize('NFC'), value.normalize('NFD'), value.normalize('NFKC'), value.normalize('NFKD')])) {
    const bytes = Buffer.from(text, 'utf8')
    const jsonEscaped = JSON.stringify(text).slice(1, -1)
    const percent = encodeURIComponent(text)
    // application/x-www-form-urlencoded: spaces as `+`, and `!'()~` escaped too.
    const form = new URLSearchParams([['', text]]).toString().slice(1)
    forms.add(text)
    forms.add(jsonEscaped)
    for (const upper of [false, true]) {
      forms.add(unicodeEscaped(jsonEscaped, false, upper))
      // HTML-safe JSON encoders escape `<>&'` as well.
      forms.add(unicodeEscaped(jsonEscaped, true, upper))
    }
    forms.add(bytes.toString('base64'))
    forms.add(bytes.toString('base64url'))
    for (const offset of [0, 1, 2]) {
      forms.add(base64Core(bytes, offset, 'base64'))
      forms.add(base64Core(bytes, offset, 'base64url'))
    }
    forms.add(bytes.toString('hex'))
    forms.add(bytes.toString('hex').toUpperCase())
    for (const escaped of [percent, form]) {
      forms.add(escaped)
      forms.add(escaped.replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase()))
    }
  }
  // Each form as it reads inside a JSON string (a log line's message, a body logged as text), so also JSON-escaped twice.
  for (const form of [...forms]) forms.add(JSON.stringify(form).slice(1, -1))
  return [...forms]
}

const OPEN_BRACE = 0x7b
/** Entries of the cut map kept between lines; a longer line gets one of its own. */
const REUSED_CUTS = 16 * 1024

/** Characters hashed per step of the skip search. */
const BLOCK = 3
const HASH_BITS = 18
/**
 * The longest window the skip search looks at. A form shorter than the window
 * forces a rebuild of the tables, so capping it caps the rebuilds a stream of
 * new values can cause at `MAX_WINDOW - MIN_SECRET_LENGTH`; longer forms are
 * added in time proportional to their own length.
 */
const MAX_WINDOW = 32

// Multiplicative hashing spreads the three UTF-16 units over the table; a
// weak hash makes unrelated text collide with secret blocks and shortens jumps.
function blockHash (text: string, end: number): number {
  return Math.imul((text.charCodeAt(end - 2) << 16) ^ (text.charCodeAt(end - 1) << 8) ^ text.charCodeAt(end), 0x9e3779b1) >>> (32 - HASH_BITS)
}

/**
 * A multi-pattern matcher in the Wu–Manber style: it looks at the last three
 * characters of a window as long as the shortest pattern (up to
 * {@link MAX_WINDOW}) and, unless they end the prefix of some pattern, jumps
 * ahead by up to that length. A log line with no secret in it costs a handful of
 * table look-ups instead of one attempt per pattern per character (a 140-way
 * regular expression halved logger throughput).
 */
class Matcher {
  readonly #window: number
  readonly #shift: Uint16Array
  readonly #buckets = new Map<number, string[]>()

  constructor (patterns: Iterable<string>) {
    let m = MAX_WINDOW
    for (const p of patterns) m = Math.min(m, p.length)
    this.#window = m
    this.#shift = new Uint16Array(1 << HASH_BITS).fill(m - BLOCK + 1)
    this.add(patterns)
  }

  /** True if `pattern` can be added without rebuilding: it is at least as long as the window. */
  fits (pattern: string): boolean {
    return pattern.length >= this.#window
  }

  /** Add patterns that {@link fits} accepts. */
  add (patterns: Iterable<string>): void {
    const m = this.#window
    for (const p of patterns) {
      for (let j = BLOCK - 1; j < m; j++) {
        const h = blockHash(p, j)
        const shift = m - 1 - j
        if (shift < this.#shift[h]) this.#shift[h] = shift
      }
      const h = blockHash(p, m - 1)
      const bucket = this.#buckets.get(h)
      if (bucket === undefined) {
        this.#buckets.set(h, [p])
        continue
      }
      // Longest first: when one secret contains another, the whole of it goes.
      // Values that share a prefix (one name's rotations) share a bucket, so
      // the place is searched for rather than the bucket sorted again.
      let lo = 0
      let hi = bucket.length
      while (lo < hi) {
        const mid = (lo + hi) >>> 1
        if (bucket[mid].length >= p.length) lo = mid + 1
        else hi = mid
      }
      bucket.splice(lo, 0, p)
    }
  }

  /**
   * Leftmost, then longest, non-overlapping matches replaced by `replacement`;
   * with `allowed`, only the matches it accepts (a refused one does not hide a
   * shorter or later one).
   */
  replace (text: string, replacement: string, allowed: ((start: number, end: number) => boolean) | null): string {
    const m = this.#window
    const shift = this.#shift
    let out = ''
    let last = 0
    let pos = m - 1
    while (pos < text.length) {
      const h = blockHash(text, pos)
      const step = shift[h]
      if (step > 0) {
        pos += step
        continue
      }
      const start = pos - m + 1
      let matched = 0
      for (const p of this.#buckets.get(h) ?? []) {
        if (text.startsWith(p, start) && (allowed === null || allowed(start, start + p.length))) {
          matched = p.length
          break
        }
      }
      if (matched === 0) {
        pos++
        continue
      }
      out += text.slice(last, start) + replacement
      last = start + matched
      pos = last + m - 1
    }
    return last === 0 ? text : out + text.slice(last)
  }
}

/** A process-wide registry of secret values and the scrubber built from it. */
export class SecretScrubber {
  readonly #values = new Set<string>()
  /** Every encoding of every value that is long enough to be searched for. */
  readonly #forms = new Set<string>()
  /** Forms the matcher does not have yet. */
  #newForms: string[] = []
  #matcher: Matcher | null = null
  #longest = 0
  /** The JSON line being scrubbed; its cut map once built, and whether it found JSON. */
  #line = ''
  #cuts: Int32Array | null = null
  #lineIsJson = true
  // Allocating a typed array per line cost more than the scan that fills it.
  readonly #reusedCuts = new Int32Array(REUSED_CUTS)

  /** Number of registered values. */
  get size (): number {
    return this.#values.size
  }

  /** The length of the longest encoding searched for (0 without values). */
  get longestForm (): number {
    return this.#longest
  }

  /**
   * The first index at or after `at` that no encoding of a value straddles:
   * text cut there and scrubbed in two pieces loses no match to the cut.
   */
  safeCut (text: string, at: number): number {
    if (this.#newForms.length > 0) this.#update()
    if (this.#matcher === null) return at
    let cut = at
    // Matches come leftmost first and never overlap: one that straddles moves the cut past it.
    this.#matcher.replace(text, '', (start, end) => {
      if (start < cut && end > cut) cut = end
      return true
    })
    return cut
  }

  /**
   * Register a value. Empty, whitespace-only and too-short values are ignored
   * (returns false). Values are never forgotten: a rotated-out secret must stay
   * scrubbed, and a module holds few of them.
   */
  add (value: string): boolean {
    if (typeof value !== 'string' || value.trim().length === 0 || value.length < MIN_SECRET_LENGTH) return false
    if (this.#values.has(value)) return true
    this.#values.add(value)
    for (const form of encodingsOf(value)) {
      if (form.length < MIN_SECRET_LENGTH || this.#forms.has(form)) continue
      this.#forms.add(form)
      this.#newForms.push(form)
      this.#longest = Math.max(this.#longest, form.length)
    }
    return true
  }

  /**
   * Replace every registered value, in each of its encodings, by `[REDACTED]`.
   * A line that starts with `{` is JSON: only its string values' content is
   * replaced, between whole characters. Any other line is replaced everywhere.
   */
  scrub (line: string): string {
    if (this.#newForms.length > 0) this.#update()
    if (this.#matcher === null) return line
    if (line.charCodeAt(0) !== OPEN_BRACE) return this.#matcher.replace(line, REDACTED, null)
    this.#line = line
    const out = this.#matcher.replace(line, REDACTED, this.#inOneStringValue)
    // Neither is kept until the next line: a line may be large.
    this.#line = ''
    this.#cuts = null
    return out
  }

  // The cut map costs a pass over the line: it is built only once the matcher
  // has found a candidate, so a line without secrets costs what it did.
  readonly #inOneStringValue = (start: number, end: number): boolean => {
    if (this.#cuts === null) {
      const line = this.#line
      this.#cuts = line.length < REUSED_CUTS ? this.#reusedCuts : new Int32Array(line.length + 1)
      this.#lineIsJson = valueStringCuts(line, this.#cuts)
    }
    if (!this.#lineIsJson) return true
    const value = this.#cuts[start]
    return value !== -1 && value === this.#cuts[end]
  }

  // New forms extend the matcher in place; only one shorter than its window
  // (rare, and bounded by the window's cap) rebuilds it from every form.
  #update (): void {
    const matcher = this.#matcher
    if (matcher !== null && this.#newForms.every((f) => matcher.fits(f))) matcher.add(this.#newForms)
    else this.#matcher = new Matcher(this.#forms)
    this.#newForms = []
  }
}
