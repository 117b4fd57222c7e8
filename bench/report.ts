/**
 * Shared pieces of the benchmark: the row a section returns, statistics and
 * the printed summary. Benchmarks report; they never assert or fail on a miss.
 */

/** A ratio target: `<=` for costs (time), `>=` for rates (throughput). */
export interface Target {
  op: '<=' | '>='
  value: number
}

/** One summary line: a subject measured against a baseline from the same run. */
export interface Row {
  /** Short name, left column of the summary (`cold start`). */
  name: string
  /** The measured values, already formatted (`module 182 ms  bare 160 ms`). */
  detail: string
  /** subject / baseline. */
  ratio: number
  target?: Target
}

/** What a section gets from the runner. */
export interface SectionContext {
  /** Print one human-readable progress or measurement line. */
  log: (line: string) => void
}

/** A group of measurements; it prints as it goes and returns summary rows. */
export interface Section {
  name: string
  run: (ctx: SectionContext) => Promise<Row[]>
}

export function median (values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] as number : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

/** Spread of a sample as (max - min) / median, to show how noisy a run was. */
export function spread (values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  return (Math.max(...values) - Math.min(...values)) / median(values)
}

export function ms (value: number): string {
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ms`
}

/** Lines (or operations) per second, compact: `412k lines/s`. */
export function rate (perSecond: number, unit = 'lines/s'): string {
  if (perSecond >= 10e6) return `${(perSecond / 1e6).toFixed(1)}M ${unit}`
  if (perSecond >= 1e3) return `${Math.round(perSecond / 1e3)}k ${unit}`
  return `${Math.round(perSecond)} ${unit}`
}

export function ratio (value: number): string {
  return `${value.toFixed(2)}x`
}

export function percent (value: number): string {
  return `${Math.round(value * 100)}%`
}

export function meets (row: Row): boolean | null {
  if (row.target === undefined || !Number.isFinite(row.ratio)) return null
  return row.target.op === '<=' ? row.ratio <= row.target.value : row.ratio >= row.target.value
}

/** The final block: one aligned line per row. */
export function formatSummary (rows: readonly Row[]): string[] {
  const nameWidth = Math.max(0, ...rows.map((r) => r.name.length)) + 2
  const detailWidth = Math.max(0, ...rows.map((r) => r.detail.length)) + 2
  return rows.map((row) => {
    const verdict = meets(row)
    const target = row.target === undefined ? '' : `  (target ${row.target.op} ${row.target.value}x)`
    const status = verdict === null ? '' : verdict ? '  PASS' : '  MISS'
    return `${row.name.padEnd(nameWidth)}${row.detail.padEnd(detailWidth)}ratio ${ratio(row.ratio)}${target}${status}`
  })
}
