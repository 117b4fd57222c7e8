/**
 * Where a scrubber may cut a serialized JSON object without breaking it.
 *
 * A secret like `1796`, `true` or `time` also occurs in numbers, literals and
 * keys of every pino line; replacing it there yields invalid JSON or renames a
 * field. Only the content of string values can take a placeholder, and only
 * between whole characters: a cut inside `\n`, `\"` or `\u00e9` corrupts the
 * escape, and such a cut never bounds a secret in the decoded text anyway.
 */

const QUOTE = 0x22
const COLON = 0x3a

/** Characters that may appear outside strings in a JSON text: whitespace, punctuation, numbers, literals. */
const OUTSIDE_STRINGS = new Uint8Array(128)
for (const c of ' \t\r\n{}[]:,0123456789+-.eEtrufalsn') OUTSIDE_STRINGS[c.charCodeAt(0)] = 1
/** Characters that may follow a backslash. */
const ESCAPED = new Uint8Array(128)
for (const c of '"\\/bfnrtu') ESCAPED[c.charCodeAt(0)] = 1

function isHex (c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)
}

function isSpace (c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09
}

/** Length of the escape sequence at `at` (a backslash), or 0 if it is not a valid one. */
function escapeLength (text: string, at: number): number {
  const e = text.charCodeAt(at + 1)
  if (!(e < 128 && ESCAPED[e] === 1)) return 0
  if (e !== 0x75) return 2
  for (let k = at + 2; k < at + 6; k++) if (!isHex(text.charCodeAt(k))) return 0
  return 6
}

/**
 * Write into `cuts[0..text.length]`, for each position of a JSON object text,
 * the index of the string value whose content that position bounds, or -1:
 * positions in keys, numbers, literals and structure, and positions inside an
 * escape sequence, are -1. A replacement of `[start, end)` keeps the text valid
 * JSON when both ends carry the same index. Returns false when the text is not
 * JSON at the token level (a stray character outside strings, a bad escape, an
 * unterminated string). `cuts` must hold at least `text.length + 1` entries.
 */
export function valueStringCuts (text: string, cuts: Int32Array): boolean {
  const n = text.length
  cuts.fill(-1, 0, n + 1)
  // Strings are crossed with indexOf and marked with fill: a character loop
  // over their content cost several times more.
  let nextQuote = -1
  let nextBackslash = text.indexOf('\\')
  let strings = 0
  let i = 0
  while (i < n) {
    const c = text.charCodeAt(i)
    if (c !== QUOTE) {
      if (c >= 128 || OUTSIDE_STRINGS[c] === 0) return false
      i++
      continue
    }
    const start = i + 1
    let end = start
    for (;;) {
      if (nextQuote < end) nextQuote = text.indexOf('"', end)
      if (nextQuote === -1) return false
      if (nextBackslash !== -1 && nextBackslash < end) nextBackslash = text.indexOf('\\', end)
      if (nextBackslash === -1 || nextBackslash > nextQuote) break
      const len = escapeLength(text, nextBackslash)
      if (len === 0) return false
      end = nextBackslash + len
    }
    end = nextQuote
    i = end + 1
    let k = i
    while (k < n && isSpace(text.charCodeAt(k))) k++
    // A string followed by a colon is a key: field names stay as they are.
    if (text.charCodeAt(k) === COLON) continue
    cuts.fill(strings++, start, end + 1)
    for (let b = text.indexOf('\\', start); b !== -1 && b < end; b = text.indexOf('\\', b + 2)) {
      const len = escapeLength(text, b)
      cuts.fill(-1, b + 1, b + len)
      b += len - 2
    }
  }
  return true
}
