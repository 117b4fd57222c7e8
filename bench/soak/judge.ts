import type { Sample } from './sample.js'

const MiB = 1024 * 1024

/**
 * How far the module may drift during a soak. Growth is the median of the last
 * quarter of the samples taken after warm-up minus the median of the first
 * quarter: medians, so one GC cycle or one slow second does not decide.
 */
export interface Bounds {
  /** RSS may grow by at most this fraction of its first-quarter median… */
  rssGrowthRatio: number
  /** …and by at most this many bytes. */
  rssGrowthBytes: number
  /** The V8 heap in use likewise. */
  heapGrowthRatio: number
  heapGrowthBytes: number
  /** Active handles may grow by at most this many (a leaked socket or timer per request would exceed it within seconds). */
  handlesGrowth: number
  /** The median of the per-second event-loop delay p99 over the last quarter, ms. */
  loopP99Ms: number
}

export const DEFAULT_BOUNDS: Bounds = {
  rssGrowthRatio: 0.3,
  rssGrowthBytes: 50 * MiB,
  heapGrowthRatio: 0.5,
  heapGrowthBytes: 32 * MiB,
  handlesGrowth: 20,
  loopP99Ms: 100
}

/** A plotted and judged series: which field, how it is shown. */
export interface Series {
  key: Exclude<keyof Sample, 't'>
  label: string
  unit: string
  /** Multiply a raw value by this for display. */
  scale: number
}

export const SERIES: readonly Series[] = [
  { key: 'rss', label: 'RSS', unit: 'MiB', scale: 1 / MiB },
  { key: 'heapUsed', label: 'Heap used', unit: 'MiB', scale: 1 / MiB },
  { key: 'handles', label: 'Active handles', unit: '', scale: 1 },
  { key: 'loopP99', label: 'Event-loop delay p99', unit: 'ms', scale: 1 }
]

/** First- and last-quarter medians of one series, and its maximum after warm-up. */
export interface Drift { first: number, last: number, max: number }

export interface Verdict {
  failures: string[]
  drift: Record<Series['key'], Drift>
}

/** The smallest number of samples after warm-up that makes quarters of at least two. */
export const MIN_SAMPLES = 8

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] as number : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

const mib = (bytes: number): string => `${(bytes / MiB).toFixed(1)} MiB`

/** Judge the samples taken after `warmup` seconds against `bounds`. */
export function judge (samples: readonly Sample[], warmup: number, bounds: Bounds): Verdict {
  const measured = samples.filter((s) => s.t >= warmup)
  const quarter = Math.floor(measured.length / 4)
  const drift = {} as Record<Series['key'], Drift>
  for (const { key } of SERIES) {
    const values = measured.map((s) => s[key])
    drift[key] = quarter === 0
      ? { first: NaN, last: NaN, max: NaN }
      : { first: median(values.slice(0, quarter)), last: median(values.slice(-quarter)), max: Math.max(...values) }
  }
  if (measured.length < MIN_SAMPLES) {
    return { failures: [`${measured.length} samples after the ${warmup} s warm-up; at least ${MIN_SAMPLES} are needed to compare quarters`], drift }
  }
  const failures: string[] = []
  const memory = (label: string, d: Drift, ratio: number, bytes: number): void => {
    const growth = d.last - d.first
    if (growth > ratio * d.first || growth > bytes) {
      failures.push(`${label} grew from ${mib(d.first)} to ${mib(d.last)} (bounds: ${ratio * 100} %, ${mib(bytes)})`)
    }
  }
  memory('RSS', drift.rss, bounds.rssGrowthRatio, bounds.rssGrowthBytes)
  memory('heap used', drift.heapUsed, bounds.heapGrowthRatio, bounds.heapGrowthBytes)
  if (drift.handles.last - drift.handles.first > bounds.handlesGrowth) {
    failures.push(`active handles grew from ${drift.handles.first} to ${drift.handles.last} (bound: +${bounds.handlesGrowth})`)
  }
  if (drift.loopP99.last > bounds.loopP99Ms) {
    failures.push(`event-loop delay p99 was ${drift.loopP99.last.toFixed(1)} ms over the last quarter (bound: ${bounds.loopP99Ms} ms)`)
  }
  return { failures, drift }
}
