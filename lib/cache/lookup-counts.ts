import type { CacheValue } from './types.js'

/**
 * @internal Hits and misses of `get`, counted by the backend where it learns
 * the outcome: counting in the cache would cost every lookup one more promise step.
 */
export interface LookupCounts { hits: number, misses: number }

/** @internal Count one lookup's outcome, if counts are kept, and pass the value on. */
export function countLookup (value: CacheValue | undefined, counts: LookupCounts | undefined): CacheValue | undefined {
  if (counts !== undefined) {
    if (value === undefined) counts.misses++
    else counts.hits++
  }
  return value
}
