import { ERR_PYWATT_CACHE_OPERATION } from '../errors.js'
import type { CacheValue } from './types.js'

// One tag byte says how to read the rest. Safe integers are stored as plain
// ASCII digits so that the servers' own INCR/incr work on them; a tagged value
// never starts with a digit or '-', so the two cannot be confused.
const STRING = 0
const BYTES = 1
const JSON_ = 2
// Memcached may pad a decremented counter with trailing spaces.
const INTEGER = /^-?\d{1,16} *$/

/**
 * What is sent for a value (Redis and Memcached). Strings go out as strings
 * (the tag is a NUL character, one 0 byte in UTF-8): no Buffer per write.
 */
export function encode (value: CacheValue): string | Buffer {
  if (typeof value === 'string') return '\u0000' + value
  if (Buffer.isBuffer(value)) return Buffer.concat([Buffer.of(BYTES), value])
  if (Number.isSafeInteger(value)) return String(value)
  const json = JSON.stringify(value)
  if (json === undefined) throw new ERR_PYWATT_CACHE_OPERATION('the value is not a string, a Buffer or a JSON value')
  return '\u0002' + json
}

/** The value of stored bytes; bytes written by another client are read as a string. */
export function decode (bytes: Buffer): CacheValue {
  const tag = bytes[0]
  if (tag === STRING) return bytes.toString('utf8', 1)
  if (tag === BYTES) return Buffer.from(bytes.subarray(1))
  if (tag === JSON_) return JSON.parse(bytes.toString('utf8', 1)) as CacheValue
  const text = bytes.toString('utf8')
  return INTEGER.test(text) && Number.isSafeInteger(Number(text.trimEnd())) ? Number(text.trimEnd()) : text
}
