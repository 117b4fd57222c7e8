/**
 * A fast path for the one large field on the hot path: the byte array of an
 * `http_request` body, which serde writes last (`…,"body":[123,34,…]}`).
 * Parsing 16 KiB of body as generic JSON and then checking 16 384 array
 * elements costs about 0.5 ms; reading the digits straight into numbers costs
 * a tenth of that. Anything unusual returns `null` and takes the generic,
 * strict path, which also produces the precise error.
 */

const DIGIT_0 = 48
const DIGIT_9 = 57
const COMMA = 44

function isSpace (c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13
}

/**
 * If `line` ends with `"<key>":[…]}` — the array of integers 0..255 being the
 * last member of the top-level object — return the bytes and the line with the
 * array replaced by `null`. Otherwise `null`.
 */
export function takeTrailingByteArray (line: string, key: string): { rest: string, bytes: Buffer } | null {
  let end = line.length - 1
  while (end >= 0 && isSpace(line.charCodeAt(end))) end--
  if (line.charCodeAt(end) !== 125) return null // }
  end--
  while (end >= 0 && isSpace(line.charCodeAt(end))) end--
  if (line.charCodeAt(end) !== 93) return null // ]
  const close = end
  const open = line.lastIndexOf('[', close)
  if (open < 0) return null
  let k = open - 1
  while (k >= 0 && isSpace(line.charCodeAt(k))) k--
  if (line.charCodeAt(k) !== 58) return null // :
  k--
  while (k >= 0 && isSpace(line.charCodeAt(k))) k--
  const quoted = `"${key}"`
  const keyStart = k - quoted.length + 1
  // A `"` right before the key would make it the end of an escaped string.
  if (keyStart < 1 || !line.startsWith(quoted, keyStart) || line.charCodeAt(keyStart - 1) === 92) return null
  const bytes = parseByteList(line, open + 1, close)
  if (bytes === null) return null
  return { rest: `${line.slice(0, keyStart)}${quoted}:null${line.slice(close + 1)}`, bytes }
}

/** `1,22,255` (with optional whitespace) between `from` and `to`; `null` if anything else is there. */
function parseByteList (text: string, from: number, to: number): Buffer | null {
  // At most one byte per two characters ("1,"): allocate once, trim at the end.
  const out = Buffer.allocUnsafe((to - from + 1) >> 1)
  let k = 0
  let n = 0
  let digits = 0
  // 0: a number is expected, 1: inside a number, 2: after a number and some space.
  let state = 0
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i)
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
