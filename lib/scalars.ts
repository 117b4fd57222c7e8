/**
 * Text to scalar, shared by the typed secret accessors and the typed module
 * configuration so that a flag or a count reads the same wherever it comes
 * from. Each returns `undefined` for text that is not one; callers word the error.
 */

const TRUE = new Set(['true', '1', 'yes', 'on'])
const FALSE = new Set(['false', '0', 'no', 'off'])
const INT = /^[+-]?\d+$/

/** The words {@link parseBoolean} takes, for error messages. */
export const BOOLEAN_WORDS = 'true/false/1/0/yes/no/on/off'

/** A safe integer, decimal notation only. */
export function parseInteger (text: string): number | undefined {
  const trimmed = text.trim()
  const n = Number(trimmed)
  return INT.test(trimmed) && Number.isSafeInteger(n) ? n : undefined
}

/** A finite number. */
export function parseNumber (text: string): number | undefined {
  const trimmed = text.trim()
  const n = Number(trimmed)
  return trimmed.length > 0 && Number.isFinite(n) ? n : undefined
}

/** `true/false/1/0/yes/no/on/off`, any case. */
export function parseBoolean (text: string): boolean | undefined {
  const word = text.trim().toLowerCase()
  if (TRUE.has(word)) return true
  if (FALSE.has(word)) return false
  return undefined
}
