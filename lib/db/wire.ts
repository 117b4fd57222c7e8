import type { ExecuteResult, Row } from './types.js'

/**
 * Statement parameters and row values in JSON, between a module and the
 * orchestrator's Database service (docs/protocol.md §13): bytes travel as
 * `{"$base64": "…"}`, bigints as decimal strings, Dates as ISO strings,
 * `undefined` as `null`; everything else is JSON as it is.
 */
export function toWire (value: unknown): unknown {
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return { $base64: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') }
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof Date) return value.toISOString()
  if (value === undefined) return null
  return value
}

/** The value a {@link toWire} form stands for (bytes come back as a Buffer). */
export function fromWire (value: unknown): unknown {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const keys = Object.keys(value)
    const b64 = (value as { $base64?: unknown }).$base64
    if (keys.length === 1 && typeof b64 === 'string') return Buffer.from(b64, 'base64')
  }
  return value
}

/** A row with each value in its wire form. */
export function rowToWire (row: Row): Row {
  const out: Row = {}
  for (const [k, v] of Object.entries(row)) out[k] = toWire(v)
  return out
}

/** A row received, its bytes decoded. */
export function rowFromWire (row: unknown): Row {
  const out: Row = {}
  for (const [k, v] of Object.entries(row as Row)) out[k] = fromWire(v)
  return out
}

/** An `execute` result on the wire: `rows_affected`, and `last_insert_id` when the backend gives one. */
export function executeToWire (result: ExecuteResult): { rows_affected: number, last_insert_id?: unknown } {
  return result.lastInsertId === undefined ? { rows_affected: result.rowsAffected } : { rows_affected: result.rowsAffected, last_insert_id: toWire(result.lastInsertId) }
}

/** An `execute` result received: the object above, or a bare count of rows. */
export function executeFromWire (result: unknown): ExecuteResult {
  if (typeof result === 'number') return { rowsAffected: result }
  const r = result as { rows_affected?: unknown, last_insert_id?: unknown } | null
  const out: ExecuteResult = { rowsAffected: Number(r?.rows_affected ?? 0) }
  const id = r?.last_insert_id
  if (typeof id === 'number') out.lastInsertId = id
  else if (typeof id === 'string' && /^-?\d+$/.test(id)) out.lastInsertId = Number.isSafeInteger(Number(id)) ? Number(id) : BigInt(id)
  return out
}
