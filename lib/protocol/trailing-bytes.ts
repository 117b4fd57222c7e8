/**
 * A fast path for the one large field on the hot path: the byte array of an
 * `http_request` body, which serde writes last (`…,"body":[123,34,…]}`).
 * Parsing 16 KiB of body as generic JSON and then checking 16 384 array
 * elements costs about 0.5 ms; reading the digits straight into a Buffer costs
 * about a third of that. Anything unusual returns `null` and takes the generic,
 * strict path, which also produces the precise error.
 */

const DIGIT_0 = 48
const DIGIT_9 = 57
const COMMA = 44
const WIDE = /[\u0100-\uffff]/

function isSpace (c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13
}

/** Where a trailing byte array sits in a line, and its values. */
interface TrailingArray {
  /** Offset of the key's opening quote. */
  keyStart: number
  /** Offset just past the array's `]`. */
  after: number
  bytes: Buffer
}

/**
 * If `line` (as bytes or one-byte characters) ends with `"<key>":[…]}` — the
 * array of integers 0..255 being the last member of the top-level object —
 * locate it and read its values. Otherwise `null`.
 */
function locate (line: Uint8Array, key: Uint8Array): TrailingArray | null {
  let end = line.length - 1
  while (end >= 0 && isSpace(line[end])) end--
  if (line[end] !== 125) return null // }
  end--
  while (end >= 0 && isSpace(line[end])) end--
  if (line[end] !== 93) return null // ]
  const close = end
  const open = line.lastIndexOf(91, close) // [
  if (open < 0) return null
  let k = open - 1
  while (k >= 0 && isSpace(line[k])) k--
  if (line[k] !== 58) return null // :
  k--
  while (k >= 0 && isSpace(line[k])) k--
  const keyStart = k - key.length - 1
  if (keyStart < 1 || line[keyStart] !== 34 || line[k] !== 34) return null // "
  for (let i = 0; i < key.length; i++) if (line[keyStart + 1 + i] !== key[i]) return null
  // A backslash before the quote would make it the end of an escaped string.
  if (line[keyStart - 1] === 92) return null
  const bytes = parseByteList(line, open + 1, close)
  return bytes === null ? null : { keyStart, after: close + 1, bytes }
}

/**
 * If `line` ends with `"<key>":[…]}`, return the bytes and the line with the
 * array replaced by `null` (for the generic decoder). Otherwise `null`.
 */
export function takeTrailingByteArray (line: string, key: string): { rest: string, bytes: Buffer } | null {
  // latin1 keeps one byte per character, so offsets match the string's.
  const found = locate(Buffer.from(line, 'latin1'), Buffer.from(key, 'latin1'))
  // It keeps only the low byte of a wider character, which could pose as a digit, a bracket or a quote.
  if (found === null || WIDE.test(line.slice(found.keyStart - 1))) return null
  return { rest: `${line.slice(0, found.keyStart)}"${key}":null${line.slice(found.after)}`, bytes: found.bytes }
}

/**
 * {@link takeTrailingByteArray} on UTF-8 bytes (a frame payload): the array is
 * ASCII, so it is located and read on the bytes themselves; only the rest is
 * decoded, by `decode` (which rejects invalid UTF-8).
 */
export function takeTrailingByteArrayOfBytes (payload: Uint8Array, key: string, decode: (bytes: Uint8Array) => string): { rest: string, bytes: Buffer } | null {
  const found = locate(payload, Buffer.from(key, 'latin1'))
  if (found === null) return null
  return { rest: `${decode(payload.subarray(0, found.keyStart))}"${key}":null${decode(payload.subarray(found.after))}`, bytes: found.bytes }
}

/** `1,22,255` (with optional whitespace) between `from` and `to`; `null` if anything else is there. */
function parseByteList (text: Uint8Array, from: number, to: number): Buffer | null {
  // At most one byte per two characters ("1,"): allocate once, trim at the end.
  const out = Buffer.allocUnsafe((to - from + 1) >> 1)
  if (from === to) return out.subarray(0, 0)
  const k = parseCompact(text, from, to, out)
  if (k >= 0) return out.subarray(0, k)
  return k === NOT_COMPACT ? parseSpaced(text, from, to, out) : null
}

const NOT_COMPACT = -1
const INVALID = -2

/**
 * The list as serde writes it, digits and commas only: one step per number
 * rather than per character. The number of bytes written to `out`, or
 * `NOT_COMPACT` at the first character that is not a digit or a comma (left
 * to {@link parseSpaced}), or `INVALID`.
 */
function parseCompact (text: Uint8Array, from: number, to: number, out: Buffer): number {
  let i = from
  let k = 0
  // `to` is the offset of the `]`, so reading `text[to]` stays in the line and is never a digit.
  for (;;) {
    let n = (text[i] as number) - DIGIT_0
    if (n < 0 || n > 9) return NOT_COMPACT
    let d = (text[++i] as number) - DIGIT_0
    if (d >= 0 && d <= 9) {
      if (n === 0) return INVALID // JSON has no leading zeros
      n = n * 10 + d
      d = (text[++i] as number) - DIGIT_0
      if (d >= 0 && d <= 9) {
        n = n * 10 + d
        if (n > 255) return INVALID
        i++
      }
    }
    out[k++] = n
    if (i === to) return k
    if (text[i] !== COMMA) return NOT_COMPACT
    i++
  }
}

/** The general case, one character at a time, whitespace allowed between tokens. */
function parseSpaced (text: Uint8Array, from: number, to: number, out: Buffer): Buffer | null {
  let k = 0
  let n = 0
  let digits = 0
  // 0: a number is expected, 1: inside a number, 2: after a number and some space.
  let state = 0
  for (let i = from; i < to; i++) {
    const c = text[i]
    if (c >= DIGIT_0 && c <= DIGIT_9) {
      if (state === 2) return null
      if (state === 0) {
        state = 1
        n = 0
        digits = 0
      } else if (n === 0) {
        return null // JSON has no leading zeros
      }
      n = n * 10 + c - DIGIT_0
      if (++digits > 3) return null
    } else if (c === COMMA) {
      if (state === 0 || n > 255) return null
      out[k++] = n
      state = 0
    } else if (isSpace(c)) {
      if (state === 1) state = 2
    } else {
      return null
    }
  }
  if (state === 0) return k === 0 ? out.subarray(0, 0) : null
  if (n > 255) return null
  out[k++] = n
  return out.subarray(0, k)
}
