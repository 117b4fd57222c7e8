import { ERR_PYWATT_ENCODE, ERR_PYWATT_PROTOCOL } from '../errors.js'
import { decodeBase64Strict, decodeUtf8 } from './bytes.js'
import { scanStrictJson, type StrictJsonScan } from './strict-json.js'

/**
 * TCP/UDS frame codec (docs/protocol.md §11.2):
 * `u32 big-endian payload length | u8 format | payload`.
 * Format 1 is JSON, 2 "Binary" (usable only when the bytes are JSON), 3 base64
 * of the JSON bytes. 0 ("Auto") and anything above 3 are invalid and, in Rust,
 * fatal to the channel.
 */

/** Size of the frame header: 4 length bytes plus 1 format byte. */
export const FRAME_HEADER_BYTES = 5

/**
 * Default cap on a frame's payload length. Rust allocates whatever the header
 * says (up to 4 GiB); the TS SDK refuses larger frames before allocating (docs/protocol.md §11.2).
 */
export const DEFAULT_MAX_FRAME_LENGTH = 64 * 1024 * 1024

/** The format codes that are valid on the wire. */
export const FRAME_FORMAT = { Json: 1, Binary: 2, Base64: 3 } as const

/** A valid format code. */
export type FrameFormat = typeof FRAME_FORMAT[keyof typeof FRAME_FORMAT]

/** A decoded frame header. */
export interface FrameHeader {
  /** Payload length in bytes (the header's 5 bytes not included). */
  length: number
  format: FrameFormat
}

/** One complete frame cut from a buffer. */
export interface Frame {
  format: FrameFormat
  payload: Buffer
  /** Bytes the frame occupied in the buffer (header included). */
  size: number
}

/**
 * Build a frame. Only format 1 may be sent: Rust modules emit nothing else and
 * the SDK must not emit 2 or 3 (docs/protocol.md §11.2).
 *
 * @param payload JSON bytes, or JSON text (encoded as UTF-8)
 * @throws ERR_PYWATT_ENCODE for any other format or a payload over 4 GiB
 */
export function encodeFrame (payload: Uint8Array | string, format: number = FRAME_FORMAT.Json): Buffer {
  if (format !== FRAME_FORMAT.Json) {
    throw new ERR_PYWATT_ENCODE(`frame format ${format} must not be emitted; only format 1 (JSON) is sent (docs/protocol.md §11.2)`)
  }
  // A string is encoded straight into the frame: no intermediate Buffer of the payload.
  const length = typeof payload === 'string' ? Buffer.byteLength(payload, 'utf8') : payload.length
  if (length > 0xffffffff) throw new ERR_PYWATT_ENCODE(`frame payload of ${length} bytes does not fit a u32 length`)
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + length)
  frame.writeUInt32BE(length, 0)
  frame[4] = format
  if (typeof payload === 'string') frame.write(payload, FRAME_HEADER_BYTES, 'utf8')
  else frame.set(payload, FRAME_HEADER_BYTES)
  return frame
}

/**
 * Read and validate a frame header, before any payload is allocated.
 *
 * @param maxLength payload cap; a larger announced length is a fatal framing error
 * @throws ERR_PYWATT_PROTOCOL when fewer than 5 bytes are given, the length is
 * over the cap or the format byte is invalid
 */
export function readFrameHeader (buf: Uint8Array, maxLength = DEFAULT_MAX_FRAME_LENGTH): FrameHeader {
  if (buf.length < FRAME_HEADER_BYTES) {
    throw new ERR_PYWATT_PROTOCOL(`incomplete frame header: need ${FRAME_HEADER_BYTES} bytes, got ${buf.length}`)
  }
  const length = ((buf[0] as number) * 0x1000000) + (((buf[1] as number) << 16) | ((buf[2] as number) << 8) | (buf[3] as number))
  if (length > maxLength) {
    throw new ERR_PYWATT_PROTOCOL(`frame length ${length} exceeds the maximum of ${maxLength} bytes`)
  }
  return { length, format: checkFormat(buf[4] as number) }
}

/**
 * Cut the first complete frame off `buf`.
 *
 * @returns the frame, or `undefined` when `buf` does not hold a whole frame yet
 * @throws ERR_PYWATT_PROTOCOL on an invalid header (see {@link readFrameHeader})
 */
export function readFrame (buf: Buffer, maxLength = DEFAULT_MAX_FRAME_LENGTH): Frame | undefined {
  if (buf.length < FRAME_HEADER_BYTES) return undefined
  const { length, format } = readFrameHeader(buf, maxLength)
  const size = FRAME_HEADER_BYTES + length
  if (buf.length < size) return undefined
  return { format, payload: buf.subarray(FRAME_HEADER_BYTES, size), size }
}

/**
 * Decode a frame payload to a JSON value (strictly, see {@link scanStrictJson}).
 *
 * @throws ERR_PYWATT_PROTOCOL on an invalid format byte or a payload that is not JSON
 */
export function decodeFramePayload (format: number, payload: Uint8Array): unknown {
  return parseFramePayload(format, payload).value
}

/**
 * Like {@link decodeFramePayload}, but also returns the JSON text and the strict
 * scan's findings, which the message decoders need.
 */
export function parseFramePayload (format: number, payload: Uint8Array): StrictJsonScan {
  const fmt = checkFormat(format)
  if (fmt === FRAME_FORMAT.Binary) {
    // Rust re-parses "Binary" bytes as JSON; real bincode cannot be read.
    try {
      return scanStrictJson(decodeUtf8(payload, 'frame payload'))
    } catch (err) {
      throw new ERR_PYWATT_PROTOCOL(`format 2 (Binary) frame payload is not JSON; bincode is not supported (${(err as Error).message})`)
    }
  }
  const text = fmt === FRAME_FORMAT.Json
    ? decodeUtf8(payload, 'frame payload')
    : decodeUtf8(decodeBase64Strict(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('latin1'), 'format 3 (Base64) frame payload'), 'frame payload')
  return scanStrictJson(text)
}

function checkFormat (format: number): FrameFormat {
  if (format === 1 || format === 2 || format === 3) return format
  const why = format === 0 ? ' (0 is "Auto", not valid on the wire)' : ''
  throw new ERR_PYWATT_PROTOCOL(`invalid frame format byte ${format}${why}; valid are 1 (JSON), 2 (Binary), 3 (Base64)`)
}
