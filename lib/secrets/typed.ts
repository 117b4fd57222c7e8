import { ERR_PYWATT_SECRET_INVALID } from '../errors.js'
import { BOOLEAN_WORDS, parseBoolean, parseInteger, parseNumber } from '../scalars.js'

/**
 * Parsers behind the typed secret accessors. Each error names the key and the
 * expected type, never the value (it is a secret).
 */

const INT = /^[+-]?\d+$/
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** A safe integer, decimal notation only. */
export function parseIntSecret (key: string, value: string): number {
  const n = parseInteger(value)
  if (n === undefined) throw new ERR_PYWATT_SECRET_INVALID(key, 'integer')
  return n
}

/** A finite number. */
export function parseFloatSecret (key: string, value: string): number {
  const n = parseNumber(value)
  if (n === undefined) throw new ERR_PYWATT_SECRET_INVALID(key, 'number')
  return n
}

/** `true/false/1/0/yes/no/on/off`, any case; anything else is an error. */
export function parseBoolSecret (key: string, value: string): boolean {
  const b = parseBoolean(value)
  if (b === undefined) throw new ERR_PYWATT_SECRET_INVALID(key, `boolean (${BOOLEAN_WORDS})`)
  return b
}

/** An absolute URL (WHATWG parser). */
export function parseUrlSecret (key: string, value: string): URL {
  try {
    return new URL(value.trim())
  } catch {
    throw new ERR_PYWATT_SECRET_INVALID(key, 'URL')
  }
}

/** Any JSON document. */
export function parseJsonSecret<T = unknown> (key: string, value: string): T {
  try {
    return JSON.parse(value) as T
  } catch {
    throw new ERR_PYWATT_SECRET_INVALID(key, 'JSON document')
  }
}

/**
 * A duration in milliseconds: a bare integer is milliseconds; otherwise one or
 * more `<number><unit>` parts with units ms, s, m, h, d (`1h30m`, `250ms`, `1.5s`).
 */
export function parseDurationSecret (key: string, value: string): number {
  const text = value.trim().toLowerCase()
  if (INT.test(text) && !text.startsWith('-')) return parseIntSecret(key, text)
  let total = 0
  let consumed = 0
  DURATION_PART.lastIndex = 0
  for (let m = DURATION_PART.exec(text); m !== null; m = DURATION_PART.exec(text)) {
    total += Number(m[1]) * UNIT_MS[m[2]]
    consumed = DURATION_PART.lastIndex
  }
  if (consumed === 0 || consumed !== text.length || !Number.isFinite(total)) {
    throw new ERR_PYWATT_SECRET_INVALID(key, 'duration (e.g. 250ms, 30s, 5m, 1h30m)')
  }
  return Math.round(total)
}
