import { randomFillSync } from 'node:crypto'

/*
 * W3C trace context (https://www.w3.org/TR/trace-context/) for module-to-module
 * requests: each request is a new span of the caller's trace.
 */

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/
const ZERO_TRACE = '0'.repeat(32)
const ZERO_PARENT = '0'.repeat(16)

// Ids come from one pool of random bytes refilled 4 KiB at a time: a system
// call per request (two, for a new trace) cost more than the rest of the span.
const pool = Buffer.alloc(4096)
let used = pool.length

function randomHex (bytes: number): string {
  if (used + bytes > pool.length) {
    randomFillSync(pool)
    used = 0
  }
  const hex = pool.toString('hex', used, used + bytes)
  used += bytes
  // All zeros is not a valid id.
  return /^0+$/.test(hex) ? randomHex(bytes) : hex
}

/** The trace-id of a valid `traceparent`, or `undefined`. */
export function traceIdOf (traceparent: string | undefined): string | undefined {
  const m = traceparent === undefined ? null : TRACEPARENT.exec(traceparent.trim().toLowerCase())
  // Version ff is forbidden; all-zero ids are invalid.
  if (m === null || m[1] === 'ff' || m[2] === ZERO_TRACE || m[3] === ZERO_PARENT) return undefined
  return m[2]
}

/**
 * The `traceparent` of an outgoing request: the caller's trace-id and flags
 * with a fresh parent-id, or a new sampled trace when `current` is absent or
 * not a valid traceparent.
 */
export function childTraceparent (current: string | undefined): string {
  const parentId = randomHex(8)
  const traceId = traceIdOf(current)
  if (traceId === undefined) return `00-${randomHex(16)}-${parentId}-01`
  const flags = (current as string).trim().slice(-2).toLowerCase()
  return `00-${traceId}-${parentId}-${flags}`
}
