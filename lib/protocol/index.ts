/**
 * The PyWatt wire protocol: schemas, strict decoders and Rust-exact encoders
 * for stdio lines and TCP/UDS frames (see docs/protocol.md).
 */
export * from './schemas.js'
export * from './decode.js'
export * from './encode.js'
export * from './frame.js'
export * from './listen-address.js'
export { ARRAY_ITEM, MAX_NESTING_DEPTH, formatPath, parseStrictJson, parseStrictJsonDetailed } from './strict-json.js'
export type { FloatLiteral, PathSegment, StrictJsonResult } from './strict-json.js'
export type { ByteInput } from './bytes.js'
export { bytesToJsonArray } from './bytes.js'
export { checker } from './validate.js'
export { isUuid, normaliseUuid, UUID_PATTERN } from './uuid.js'
