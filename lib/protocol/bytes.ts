import { ERR_PYWATT_ENCODE, ERR_PYWATT_PROTOCOL } from '../errors.js'

/**
 * Byte helpers shared by the codecs: Rust sends `Vec<u8>` as a JSON array of
 * numbers (≈4 bytes of JSON per byte), so HTTP bodies of megabytes turn into
 * very long arrays and the conversion must stay linear and allocation-light.
 */

/** Bytes as the encoders accept them: a JSON-style number array or raw bytes (e.g. a `Buffer`). */
export type ByteInput = readonly number[] | Uint8Array

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

// Decimal digits of every byte value, split per position, so that the hot loop
// stores single bytes from flat tables instead of copying small arrays.
const LEN = new Uint8Array(256)
const D0 = new Uint8Array(256)
const D1 = new Uint8Array(256)
const D2 = new Uint8Array(256)
for (let b = 0; b < 256; b++) {
  const digits = String(b)
  LEN[b] = digits.length
  D0[b] = digits.charCodeAt(0)
  D1[b] = digits.charCodeAt(1)
  D2[b] = digits.charCodeAt(2)
}

/**
 * Serialise bytes as a compact JSON array of integers (`[1,2,3]`, `[]`).
 *
 * Writes ASCII digits into one preallocated buffer (at most 4 bytes per input
 * byte) instead of concatenating strings, so 16 MiB bodies serialise in well
 * under a second without quadratic copying.
 *
 * @param field named in the error when a number array holds something that is not a byte
 * @throws ERR_PYWATT_ENCODE when an element is not an integer 0..255
 */
export function bytesToJsonArray (bytes: ByteInput, field = 'body'): string {
  const n = bytes.length
  if (n === 0) return '[]'
  // A plain array must hold bytes only; a Uint8Array cannot hold anything else.
  // Always a plain Uint8Array view (not a Buffer subclass) keeps the loop below monomorphic.
  const data = bytes instanceof Uint8Array ? new Uint8Array(bytes.buffer, bytes.byteOffset, n) : checkedBytes(bytes, field)
  const out = Buffer.allocUnsafe(n * 4 + 1)
  out[0] = 0x5b
  let pos = 1
  for (let i = 0; i < n; i++) {
    const b = data[i] as number
    const len = LEN[b] as number
    out[pos] = D0[b] as number
    if (len > 1) {
      out[pos + 1] = D1[b] as number
      if (len > 2) out[pos + 2] = D2[b] as number
    }
    pos += len
    out[pos++] = 0x2c
  }
  // Replace the last comma with the closing bracket.
  out[pos - 1] = 0x5d
  return out.toString('latin1', 0, pos)
}

function checkedBytes (bytes: readonly number[], field: string): Uint8Array {
  const data = new Uint8Array(bytes.length)
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]
    if (!(Number.isInteger(b) && (b as number) >= 0 && (b as number) <= 255)) {
      throw new ERR_PYWATT_ENCODE(`field \`${field}[${i}]\`: expected an integer 0..255`)
    }
    data[i] = b as number
  }
  return data
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
