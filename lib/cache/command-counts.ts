import type { CacheValue } from './types.js'

/**
 * @internal Hits, misses and sets, counted by the backend where it learns the
 * outcome: counting in the cache would cost every command one more promise step.
 */
export interface CommandCounts { hits: number, misses: number, sets: number }

/** @internal Count one lookup's outcome and pass the value on. */
export function countLookup (value: CacheValue | undefined, counts: CommandCounts): CacheValue | undefined {
  if (value === undefined) counts.misses++
  else counts.hits++
  return value
}
