import { ERR_PYWATT_ENCODE, ERR_PYWATT_PROTOCOL } from '../errors.js'

/**
 * Byte helpers shared by the codecs: Rust sends `Vec<u8>` as a JSON array of
 * numbers (≈4 bytes of JSON per byte), so HTTP bodies of megabytes turn into
 * very long arrays and the conversion must stay linear and allocation-light.
 */

/** Bytes as the encoders accept them: a JSON-style number array or raw bytes (e.g. a `Buffer`). */
export type ByteInput = readonly number[] | Uint8Array

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

// ASCII of "0".."255" followed by a comma, indexed by byte value.
const DIGITS: Uint8Array[] = Array.from({ length: 256 }, (_, i) => Buffer.from(`${i},`, 'latin1'))

/**
 * Serialise bytes as a compact JSON array of integers (`[1,2,3]`, `[]`).
 *
 * Writes ASCII digits into one preallocated buffer (at most 4 bytes per input
 * byte) instead of concatenating strings, so 16 MiB bodies serialise in tens of
 * milliseconds.
 *
 * @param field named in the error when a number array holds something that is not a byte
 * @throws ERR_PYWATT_ENCODE when an element is not an integer 0..255
 */
export function bytesToJsonArray (bytes: ByteInput, field = 'body'): string {
  const n = bytes.length
  if (n === 0) return '[]'
  const out = Buffer.allocUnsafe(n * 4 + 1)
  out[0] = 0x5b
  let pos = 1
  const raw = bytes instanceof Uint8Array
  for (let i = 0; i < n; i++) {
    const b = bytes[i] as number
    // A Uint8Array can only hold bytes; a plain array must be checked.
    if (!raw && !(Number.isInteger(b) && b >= 0 && b <= 255)) {
      throw new ERR_PYWATT_ENCODE(`field \`${field}[${i}]\`: expected an integer 0..255`)
    }
    const d = DIGITS[b] as Uint8Array
    for (let j = 0; j < d.length; j++) out[pos++] = d[j] as number
  }
  // Replace the last comma with the closing bracket.
  out[pos - 1] = 0x5d
  return out.toString('latin1', 0, pos)
}

/**
 * Decode UTF-8 strictly, as serde_json does for the bytes it parses.
 *
 * @param what names the bytes in the error message
 * @throws ERR_PYWATT_PROTOCOL on invalid UTF-8
 */
export function decodeUtf8 (bytes: Uint8Array, what: string): string {
  try {
    return utf8.decode(bytes)
  } catch {
    throw new ERR_PYWATT_PROTOCOL(`${what} is not valid UTF-8`)
  }
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/**
 * Decode standard, padded base64 strictly (Rust's `STANDARD` engine); Node's own
 * decoder silently skips invalid characters, which would hide corruption.
 *
 * @param what names the input in the error message
 * @throws ERR_PYWATT_PROTOCOL on anything but canonical padded base64
 */
export function decodeBase64Strict (text: string, what: string): Buffer {
  if (!BASE64.test(text)) throw new ERR_PYWATT_PROTOCOL(`${what} is not valid padded base64`)
  return Buffer.from(text, 'base64')
}
