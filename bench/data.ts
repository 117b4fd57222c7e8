import { execFileSync, fork, type ChildProcess, type StdioOptions } from 'node:child_process'
import { once } from 'node:events'
import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import type { Round } from './fixtures/data-side.js'
import { median, percent, rate, spread, type Row, type Section } from './report.js'

/**
 * `pywatt.db.query` and `pywatt.cache.get/set` against the raw driver, same
 * statement, same server, same concurrency, each side in processes of its own
 * (fixtures/data-side.ts says why, and which settings the raw clients get).
 * Server backends run 32 operations in flight; SQLite and memory are
 * in-process and synchronous underneath, so their baseline is the raw call
 * made from an async function (what a route handler would do). A backend whose
 * server is not reachable is reported and skipped.
 *
 * Two kinds of noise would decide a run, and the sampling averages them out:
 * - this machine's speed drifts within seconds, so the two sides alternate in
 *   short rounds and each ratio is taken between adjacent rounds: a slow
 *   stretch lowers both halves of a pair instead of one side;
 * - a process settles in a JIT state of its own, a few percent faster or
 *   slower than the next process running the same code (±5 % between two
 *   processes of the same side here, up to ±12 % unpinned), so each comparison
 *   starts several pairs of processes, in alternating order, and the ratio is
 *   the median over all their adjacent-round ratios.
 * In-process comparisons also pin both sides to one CPU (where `taskset` is
 * there): the two CPUs of this machine run at different speeds at times, and a
 * side's process would otherwise stay on the one it started on.
 */

/**
 * How each kind of comparison is sampled. Server comparisons take longer rounds:
 * with 32 operations in flight on two CPUs shared with the server, a 100 ms
 * round swung ±15 % between two processes of the same side. Even so, the raw
 * driver against itself read 0.92–1.07x on server backends over two runs.
 */
const LOCAL = { pairs: 5, rounds: 9, roundMs: 100, concurrency: 1 }
const SERVER = { pairs: 5, rounds: 7, roundMs: 200, concurrency: 32 }
type Sampling = typeof LOCAL

/** Which side a process runs (fixtures/data-side.ts): the suite's, or the baseline's. */
export type SideKind = 'pywatt' | 'raw'
const MEASURED = ['pywatt', 'raw'] as const
/**
 * With `PYWATT_BENCH_CONTROL=1`, each comparison runs a second time with the
 * raw driver on both sides, sampled the same way: how far from 1.00 a layer
 * that costs nothing would read on this machine, in this run.
 */
const CONTROL = ['raw', 'raw'] as const
const withControl = process.env.PYWATT_BENCH_CONTROL === '1'
const TARGET = { op: '>=' as const, value: 0.95 }

const sideScript = fileURLToPath(new URL('./fixtures/data-side.js', import.meta.url))

/** The comparisons, in the order they run. */
const COMPARISONS: Comparison[] = [
  { name: 'sqlite query', local: true },
  { name: 'postgres query' },
  { name: 'mariadb query' },
  { name: 'memory set', local: true },
  { name: 'memory get', local: true },
  { name: 'redis set' },
  { name: 'redis get' },
  { name: 'memcached set' },
  { name: 'memcached get' }
]

/** `taskset` arguments that pin a child to this machine's last CPU, or none where that cannot be done. */
const pinning = ((): string[] | undefined => {
  if (process.platform !== 'linux') return undefined
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' })
  } catch {
    return undefined
  }
  return ['-c', String(availableParallelism() - 1)]
})()

/** One side in its process: rounds on request, one at a time. */
class Side {
  readonly #child: ChildProcess
  /** Rejects when the process ends; raced by every wait for an answer (one listener, not one per round). */
  readonly #exited: Promise<never>

  private constructor (child: ChildProcess) {
    this.#child = child
    this.#exited = once(child, 'exit').then(([code]) => { throw new Error(`the side exited with ${String(code)}`) })
    // Nobody may be waiting when it ends (after close): not an unhandled rejection.
    this.#exited.catch(() => {})
  }

  /** Start the side; rejects with the reason it could not set up (a server down, say). */
  static async start (comparison: string, kind: SideKind, pin: boolean): Promise<Side> {
    const args = [comparison, kind]
    const stdio: StdioOptions = ['ignore', 'inherit', 'inherit', 'ipc']
    const child = pin && pinning !== undefined
      ? fork(sideScript, args, { stdio, execPath: 'taskset', execArgv: [...pinning, process.execPath] })
      : fork(sideScript, args, { stdio })
    const side = new Side(child)
    try {
      await side.#answer()
    } catch (err) {
      child.kill()
      throw err
    }
    return side
  }

  async #answer (): Promise<Record<string, unknown>> {
    const [m] = await Promise.race([once(this.#child, 'message') as Promise<[Record<string, unknown>]>, this.#exited])
    if (typeof m.error === 'string') throw new Error(m.error)
    return m
  }

  async round (ops: number, concurrency: number): Promise<Round> {
    this.#child.send({ ops, concurrency })
    return await this.#answer() as unknown as Round
  }

  async close (): Promise<void> {
    this.#child.send({ close: true })
    try {
      await this.#answer()
    } finally {
      this.#child.kill()
    }
  }
}

/** What one pair of processes measured: its rounds, in order, and the ratio of each adjacent pair. */
interface PairRun { subject: Round[], baseline: Round[], ratios: number[] }

/** Both sides' processes, started in the given order: the one started first is not favoured across pairs. */
async function startPair (name: string, [subject, baseline]: readonly [SideKind, SideKind], subjectFirst: boolean, pin: boolean): Promise<[Side, Side]> {
  const first = await Side.start(name, subjectFirst ? subject : baseline, pin)
  try {
    const second = await Side.start(name, subjectFirst ? baseline : subject, pin)
    return subjectFirst ? [first, second] : [second, first]
  } catch (err) {
    await first.close()
    throw err
  }
}

async function runPair (subject: Side, baseline: Side, { rounds, roundMs, concurrency }: Sampling): Promise<PairRun> {
  // The first warm-up runs cold code, the second is sized from it and warms at full speed.
  let ops = concurrency * 100
  for (let warm = 0; warm < 2; warm++) {
    const rate = Math.max((await subject.round(ops, concurrency)).perSecond, (await baseline.round(ops, concurrency)).perSecond)
    ops = Math.max(concurrency * 50, Math.ceil(rate * roundMs / 1000))
  }
  const run: PairRun = { subject: [], baseline: [], ratios: [] }
  for (let round = 0; round < rounds; round++) {
    let s: Round
    let b: Round
    if (round % 2 === 0) {
      s = await subject.round(ops, concurrency)
      b = await baseline.round(ops, concurrency)
    } else {
      b = await baseline.round(ops, concurrency)
      s = await subject.round(ops, concurrency)
    }
    run.subject.push(s)
    run.baseline.push(b)
    run.ratios.push(s.perSecond / b.perSecond)
  }
  return run
}

/** How the printed lines name the two kinds of side, `pywatt` and `raw` by default. */
export type SideLabels = Record<SideKind, string>

async function compare (section: string, name: string, local: boolean, sides: readonly [SideKind, SideKind], labels: SideLabels, log: (line: string) => void): Promise<Row> {
  const sampling = local ? LOCAL : SERVER
  const runs: PairRun[] = []
  for (let pair = 0; pair < sampling.pairs; pair++) {
    const [subject, baseline] = await startPair(name, sides, pair % 2 === 0, local)
    try {
      runs.push(await runPair(subject, baseline, sampling))
    } finally {
      await subject.close()
      await baseline.close()
    }
  }
  const subjectRounds = runs.flatMap((r) => r.subject)
  const baselineRounds = runs.flatMap((r) => r.baseline)
  const subject = subjectRounds.map((r) => r.perSecond)
  const baseline = baselineRounds.map((r) => r.perSecond)
  const pairMedians = runs.map((r) => median(r.ratios))
  const s = median(subject)
  const b = median(baseline)
  const cpu = (rounds: Round[]): string => `${median(rounds.map((r) => r.cpuPerOp)).toFixed(2)} µs`
  const [a, z] = sides.map((kind) => labels[kind]) as [string, string]
  const label = sides === CONTROL ? `${name} (control)` : name
  log(`${section}  ${label.padEnd(24)} ${a} ${rate(s, 'ops/s')} (spread ${percent(spread(subject))})  ${z} ${rate(b, 'ops/s')} (spread ${percent(spread(baseline))})  process pairs ${Math.min(...pairMedians).toFixed(2)}–${Math.max(...pairMedians).toFixed(2)}x  CPU/op ${a} ${cpu(subjectRounds)}  ${z} ${cpu(baselineRounds)}`)
  const row: Row = { name: `${section} ${label}`, detail: `${a} ${rate(s, 'ops/s')}  ${z} ${rate(b, 'ops/s')}`, ratio: median(runs.flatMap((r) => r.ratios)) }
  return sides === CONTROL ? row : { ...row, target: TARGET }
}

/** A comparison: its name in fixtures/data-side.ts; `local` ones are in-process (one at a time, pinned). */
export interface Comparison { name: string, local?: boolean }

/**
 * A section that runs `comparisons` one after the other, each sampled as
 * above (with its control under `PYWATT_BENCH_CONTROL=1`), against the
 * target of 0.95x; a comparison whose sides cannot start is reported and skipped.
 */
export function comparisonSection (name: string, comparisons: readonly Comparison[], labels: SideLabels = { pywatt: 'pywatt', raw: 'raw' }): Section {
  return {
    name,
    async run ({ log }): Promise<Row[]> {
      const rows: Row[] = []
      for (const c of comparisons) {
        try {
          rows.push(await compare(name, c.name, c.local === true, MEASURED, labels, log))
          if (withControl) rows.push(await compare(name, c.name, c.local === true, CONTROL, labels, log))
        } catch (err) {
          log(`${name}  ${c.name}: SKIPPED (${(err as Error).message})`)
        }
      }
      return rows
    }
  }
}

export const data = comparisonSection('data', COMPARISONS)
