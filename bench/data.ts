import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import type { Round } from './fixtures/data-side.js'
import { median, percent, rate, spread, type Row, type Section } from './report.js'

/**
 * `pywatt.db.query` and `pywatt.cache.get/set` against the raw driver, same
 * statement, same server, same concurrency, each side in a process of its own
 * (fixtures/data-side.ts says why, and which settings the raw clients get).
 * Server backends run 32 operations in flight; SQLite and memory are
 * in-process and synchronous underneath, so their baseline is the raw call
 * made from an async function (what a route handler would do). A backend whose
 * server is not reachable is reported and skipped.
 *
 * This machine's speed drifts within seconds, so each round is long enough to
 * average out a scheduler hiccup (about ROUND_MS, sized from the warm-up), the
 * two sides alternate, and the ratio is the median of the ratios of adjacent
 * rounds: a slow stretch lowers both halves of a pair instead of one side.
 * Only one side runs at a time.
 */

const ROUNDS = 15
const ROUND_MS = 300
const CONCURRENCY = 32
const TARGET = { op: '>=' as const, value: 0.95 }

const sideScript = fileURLToPath(new URL('./fixtures/data-side.js', import.meta.url))

/** The comparisons, in the order they run; `local` ones are in-process (one at a time). */
const COMPARISONS: Array<{ name: string, local?: boolean }> = [
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
  static async start (comparison: string, pywatt: boolean): Promise<Side> {
    const child = fork(sideScript, [comparison, pywatt ? 'pywatt' : 'raw'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
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

async function compare (name: string, concurrency: number, log: (line: string) => void): Promise<Row> {
  const pywatt = await Side.start(name, true)
  let raw: Side
  try {
    raw = await Side.start(name, false)
  } catch (err) {
    await pywatt.close()
    throw err
  }
  try {
    const warmOps = concurrency * 500
    const warm = Math.max((await pywatt.round(warmOps, concurrency)).perSecond, (await raw.round(warmOps, concurrency)).perSecond)
    const ops = Math.max(warmOps, Math.ceil(warm * ROUND_MS / 1000))
    const subjectRounds: Round[] = []
    const baselineRounds: Round[] = []
    for (let round = 0; round < ROUNDS; round++) {
      if (round % 2 === 0) {
        subjectRounds.push(await pywatt.round(ops, concurrency))
        baselineRounds.push(await raw.round(ops, concurrency))
      } else {
        baselineRounds.push(await raw.round(ops, concurrency))
        subjectRounds.push(await pywatt.round(ops, concurrency))
      }
    }
    const subject = subjectRounds.map((r) => r.perSecond)
    const baseline = baselineRounds.map((r) => r.perSecond)
    const ratios = subject.map((x, i) => x / (baseline[i] as number))
    const s = median(subject)
    const b = median(baseline)
    const cpu = (rounds: Round[]): string => `${median(rounds.map((r) => r.cpuPerOp)).toFixed(2)} µs`
    log(`data  ${name.padEnd(24)} pywatt ${rate(s, 'ops/s')} (spread ${percent(spread(subject))})  raw ${rate(b, 'ops/s')} (spread ${percent(spread(baseline))})  pairs ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}x  CPU/op pywatt ${cpu(subjectRounds)}  raw ${cpu(baselineRounds)}`)
    return { name: `data ${name}`, detail: `pywatt ${rate(s, 'ops/s')}  raw ${rate(b, 'ops/s')}`, ratio: median(ratios), target: TARGET }
  } finally {
    await pywatt.close()
    await raw.close()
  }
}

export const data: Section = {
  name: 'data',
  async run ({ log }): Promise<Row[]> {
    const rows: Row[] = []
    for (const c of COMPARISONS) {
      try {
        rows.push(await compare(c.name, c.local === true ? 1 : CONCURRENCY, log))
      } catch (err) {
        log(`data  ${c.name}: SKIPPED (${(err as Error).message})`)
      }
    }
    return rows
  }
}
