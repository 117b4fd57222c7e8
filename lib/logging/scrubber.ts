/**
 * Value-based secret scrubbing for serialized log lines.
 *
 * pino's `redact` only censors listed paths; a secret interpolated into a message,
 * an error stack or an unlisted field leaks (RELIABILITY.md H18). This registry
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

/** The encodings under which a secret value is searched for. */
export function encodingsOf (value: string): string[] {
  const bytes = Buffer.from(value, 'utf8')
  const jsonEscaped = JSON.stringify(value).slice(1, -1)
  const forms = new Set<string>([
    value,
    jsonEscaped,
    // A JSON string logged inside another JSON string (e.g. a serialized body).
    JSON.stringify(jsonEscaped).slice(1, -1),
    bytes.toString('base64'),
    bytes.toString('base64url'),
    bytes.toString('hex'),
    bytes.toString('hex').toUpperCase(),
    encodeURIComponent(value)
  ])
  return [...forms]
}

const OPEN_BRACE = 0x7b
/** Entries of the cut map kept between lines; a longer line gets one of its own. */
const REUSED_CUTS = 16 * 1024

/** Characters hashed per step of the skip search. */
const BLOCK = 3
const HASH_BITS = 18

// Multiplicative hashing spreads the three UTF-16 units over the table; a
// weak hash makes unrelated text collide with secret blocks and shortens jumps.
function blockHash (text: string, end: number): number {
  return Math.imul((text.charCodeAt(end - 2) << 16) ^ (text.charCodeAt(end - 1) << 8) ^ text.charCodeAt(end), 0x9e3779b1) >>> (32 - HASH_BITS)
}

/**
 * A multi-pattern matcher in the Wu–Manber style: it looks at the last three
 * characters of a window as long as the shortest pattern and, unless they end
 * the prefix of some pattern, jumps ahead by up to that length. A log line with
 * no secret in it costs a handful of table look-ups instead of one attempt per
 * pattern per character (a 140-way regular expression halved logger throughput).
 */
class Matcher {
  readonly #shortest: number
  readonly #shift: Uint16Array
  readonly #buckets = new Map<number, string[]>()

  constructor (patterns: readonly string[]) {
    const m = Math.min(...patterns.map((p) => p.length))
    this.#shortest = m
    this.#shift = new Uint16Array(1 << HASH_BITS).fill(Math.min(m - BLOCK + 1, 0xffff))
    for (const p of patterns) {
      for (let j = BLOCK - 1; j < m; j++) {
        const h = blockHash(p, j)
        const shift = m - 1 - j
        if (shift < this.#shift[h]) this.#shift[h] = shift
      }
      const h = blockHash(p, m - 1)
      const bucket = this.#buckets.get(h)
      if (bucket === undefined) this.#buckets.set(h, [p])
      else bucket.push(p)
    }
    // Longest first: when one secret contains another, the whole of it goes.
    for (const bucket of this.#buckets.values()) bucket.sort((a, b) => b.length - a.length)
  }

  /**
   * Leftmost, then longest, non-overlapping matches replaced by `replacement`;
   * with `allowed`, only the matches it accepts (a refused one does not hide a
   * shorter or later one).
   */
  replace (text: string, replacement: string, allowed: ((start: number, end: number) => boolean) | null): string {
    const m = this.#shortest
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
  #matcher: Matcher | null = null
  #dirty = false
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

  /**
   * Register a value. Empty, whitespace-only and too-short values are ignored
   * (returns false). Values are never forgotten: a rotated-out secret must stay
   * scrubbed, and a module holds few of them.
   */
  add (value: string): boolean {
    if (typeof value !== 'string' || value.trim().length === 0 || value.length < MIN_SECRET_LENGTH) return false
    if (this.#values.has(value)) return true
    this.#values.add(value)
    this.#dirty = true
    return true
  }

  /**
   * Replace every registered value, in each of its encodings, by `[REDACTED]`.
   * A line that starts with `{` is JSON: only its string values' content is
   * replaced, between whole characters. Any other line is replaced everywhere.
   */
  scrub (line: string): string {
    if (this.#dirty) this.#compile()
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

  #compile (): void {
    const forms = new Set<string>()
    for (const value of this.#values) {
      for (const form of encodingsOf(value)) {
        if (form.length >= MIN_SECRET_LENGTH) forms.add(form)
      }
    }
    this.#matcher = forms.size === 0 ? null : new Matcher([...forms])
    this.#dirty = false
  }
}
