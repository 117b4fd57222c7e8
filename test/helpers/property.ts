import fc from 'fast-check'
import type { Test } from 'tap'

/**
 * fast-check properties as tap assertions. A pass names the seed; a failure
 * carries fast-check's report (seed, shrunk counterexample, replay path). To
 * replay a failure, run the test with FC_SEED (and FC_PATH) from that report.
 */

function parameters<Ts> (numRuns: number): fc.Parameters<Ts> {
  const seed = process.env.FC_SEED
  return seed === undefined ? { numRuns } : { numRuns, seed: Number(seed), path: process.env.FC_PATH }
}

function report<Ts> (t: Test, name: string, details: fc.RunDetails<Ts>): void {
  if (details.failed) t.fail(`${name}\n${fc.defaultReportMessage(details) ?? ''}`)
  else t.pass(`${name} (${details.numRuns} runs, seed ${details.seed})`)
}

/** Check a synchronous property in `numRuns` runs. */
export function checkProperty<Ts> (t: Test, name: string, property: fc.IProperty<Ts>, numRuns: number): void {
  report(t, name, fc.check(property, parameters(numRuns)))
}

/** Check an asynchronous property in `numRuns` runs. */
export async function checkAsyncProperty<Ts> (t: Test, name: string, property: fc.IAsyncProperty<Ts>, numRuns: number): Promise<void> {
  report(t, name, await fc.check(property, parameters(numRuns)))
}

/** Cut `bytes` into consecutive chunks at the given offsets (any order, duplicates and out-of-range offsets ignored). */
export function chunksOf (bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.filter((c) => c > 0 && c < bytes.length))].sort((a, b) => a - b)
  const chunks: Buffer[] = []
  let from = 0
  for (const cut of [...points, bytes.length]) {
    chunks.push(bytes.subarray(from, cut))
    from = cut
  }
  return chunks
}

/** Offsets at which to cut a buffer of up to `max` bytes: none, a few, or very many (down to single bytes). */
export function cutsArb (max: number): fc.Arbitrary<number[]> {
  return fc.oneof(
    fc.array(fc.nat({ max }), { maxLength: 8 }),
    fc.array(fc.nat({ max }), { maxLength: max })
  )
}
