import { Counter, Gauge, type Registry } from 'prom-client'

/** One sample of a metric read at scrape time: its labels and value. */
export type Sample = readonly [labels: Record<string, string>, value: number]

/**
 * Define a metric whose samples are read when it is scraped: `read` returns
 * every label set with its value (a label set it leaves out is not exposed).
 */
export function collected (registry: Registry, kind: 'counter' | 'gauge', name: string, help: string, labelNames: readonly string[], read: () => Iterable<Sample>): string {
  const common = { name, help, labelNames, registers: [registry] }
  // eslint-disable-next-line no-new
  if (kind === 'counter') new Counter<string>({ ...common, collect () { this.reset(); for (const [labels, value] of read()) this.inc(labels, value) } })
  // eslint-disable-next-line no-new
  else new Gauge<string>({ ...common, collect () { this.reset(); for (const [labels, value] of read()) this.set(labels, value) } })
  return name
}
