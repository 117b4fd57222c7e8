import { ERR_PYWATT_ENCODE, ERR_PYWATT_PROTOCOL } from '../errors.js'

/**
 * Byte helpers shared by the codecs: Rust sends `Vec<u8>` as a JSON array of
 * numbers (≈4 bytes of JSON per byte), so HTTP bodies of megabytes turn into
 * very long arrays and the conversion must stay linear and allocation-light.
 */

/** Bytes as the encoders accept them: a JSON-style number array or raw bytes (e.g. a `Buffer`). */
export type ByteInput = readonly number[] | Uint8Array

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

// Every byte value as its decimal digits and a comma ("7,", "42,", "255,"),
// packed little-endian into one 32-bit word, with its length: the hot loop
// stores one word per byte and advances by the length, so that the next store
// overwrites what was not part of this one.
const WORD = new Uint32Array(256)
const LEN = new Uint8Array(256)
for (let b = 0; b < 256; b++) {
  const text = `${b},`
  LEN[b] = text.length
  let word = 0
  for (let i = 0; i < text.length; i++) word |= text.charCodeAt(i) << (8 * i)
  WORD[b] = word >>> 0
}

/**
 * Serialise bytes as a compact JSON array of integers (`[1,2,3]`, `[]`).
 *
 * @param field named in the error when a number array holds something that is not a byte
 * @throws ERR_PYWATT_ENCODE when an element is not an integer 0..255
 */
export function bytesToJsonArray (bytes: ByteInput, field = 'body'): string {
  const n = bytes.length
  if (n === 0) return '[]'
  if (n > SCRATCH_BYTES) return bytesToJsonArrayBuffer(bytes, field).toString('latin1')
  // Small arrays (most replies) are written into one reused buffer: no allocation but the string.
  return scratch.toString('latin1', 0, writeArray(plainBytes(bytes, field), scratch, scratchView))
}

/**
 * {@link bytesToJsonArray} as ASCII bytes, for writers that can send a Buffer:
 * a large body then never becomes a string. Writes into one preallocated
 * buffer (at most 4 bytes per input byte), so 16 MiB bodies serialise without
 * quadratic copying.
 *
 * @throws ERR_PYWATT_ENCODE when an element is not an integer 0..255
 */
export function bytesToJsonArrayBuffer (bytes: ByteInput, field = 'body'): Buffer {
  const n = bytes.length
  if (n === 0) return Buffer.from('[]')
  // Room for the last word's spare bytes past the final comma.
  const out = Buffer.allocUnsafe(n * 4 + 4)
  return out.subarray(0, writeArray(plainBytes(bytes, field), out, new DataView(out.buffer, out.byteOffset, out.length)))
}

const SCRATCH_BYTES = 4096
const scratch = Buffer.allocUnsafeSlow(SCRATCH_BYTES * 4 + 4)
const scratchView = new DataView(scratch.buffer, scratch.byteOffset, scratch.length)

/**
 * A plain Uint8Array view of the bytes (not a Buffer subclass, which keeps the
 * loop of {@link writeArray} monomorphic); a number array must hold bytes only.
 */
function plainBytes (bytes: ByteInput, field: string): Uint8Array {
  return bytes instanceof Uint8Array ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length) : checkedBytes(bytes, field)
}

/** Write the non-empty `data` as `[…]` at the start of `out` (room for 4 bytes per byte, plus 4); returns the length. */
function writeArray (data: Uint8Array, out: Buffer, view: DataView): number {
  out[0] = 0x5b
  let pos = 1
  for (let i = 0; i < data.length; i++) {
    const b = data[i] as number
    view.setUint32(pos, WORD[b] as number, true)
    pos += LEN[b] as number
  }
  // Replace the last comma with the closing bracket.
  out[pos - 1] = 0x5d
  return pos
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
