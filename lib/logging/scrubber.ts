/**
 * Value-based secret scrubbing for serialized log lines.
 *
 * pino's `redact` only censors listed paths; a secret interpolated into a message,
 * an error stack or an unlisted field leaks (RELIABILITY.md H18). This registry
 * keeps every secret value it was given and replaces each of its encodings in the
 * final line, longest match first, in a single regular-expression pass.
 */

/** The placeholder that replaces a secret. */
export const REDACTED = '[REDACTED]'

/**
 * Values shorter than this are not scrubbed by value: replacing a 1–3 character
 * string everywhere would mangle ordinary log text and numbers in the JSON.
 */
export const DEFAULT_MIN_SECRET_LENGTH = 4

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

function escapeRegExp (text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')
}

/** A process-wide registry of secret values and the scrubber built from it. */
export class SecretScrubber {
  readonly #values = new Set<string>()
  readonly #minLength: number
  #pattern: RegExp | null = null
  #dirty = false

  constructor (minLength = DEFAULT_MIN_SECRET_LENGTH) {
    this.#minLength = minLength
  }

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
    if (typeof value !== 'string' || value.trim().length === 0 || value.length < this.#minLength) return false
    if (this.#values.has(value)) return true
    this.#values.add(value)
    this.#dirty = true
    return true
  }

  /** Replace every registered value, in each of its encodings, by `[REDACTED]`. */
  scrub (line: string): string {
    if (this.#dirty) this.#compile()
    if (this.#pattern === null) return line
    this.#pattern.lastIndex = 0
    return line.replace(this.#pattern, REDACTED)
  }

  #compile (): void {
    const forms = new Set<string>()
    for (const value of this.#values) {
      for (const form of encodingsOf(value)) {
        if (form.length >= this.#minLength) forms.add(form)
      }
    }
    // Longest first: when one secret contains another, the whole of it goes.
    const sorted = [...forms].sort((a, b) => b.length - a.length)
    this.#pattern = sorted.length === 0 ? null : new RegExp(sorted.map(escapeRegExp).join('|'), 'g')
    this.#dirty = false
  }
}
