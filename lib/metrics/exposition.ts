import type { MetricObjectWithValues, MetricValue, Registry } from 'prom-client'

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8'

export type ExpositionFormat = 'prometheus' | 'openmetrics'

/**
 * The format a scraper's `Accept` asks for: OpenMetrics when it lists
 * `application/openmetrics-text` with a weight at least that of the text format
 * (`text/plain` or a wildcard); Prometheus text otherwise.
 */
export function negotiateFormat (accept: string | undefined): ExpositionFormat {
  if (accept === undefined || !accept.includes('openmetrics')) return 'prometheus'
  let open = 0
  let text = 0
  for (const part of accept.split(',')) {
    const [type = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase())
    let q = 1
    for (const p of params) {
      if (p.startsWith('q=')) q = Number(p.slice(2))
    }
    if (!Number.isFinite(q)) continue
    if (type === 'application/openmetrics-text') open = Math.max(open, q)
    else if (type === 'text/plain' || type === 'text/*' || type === '*/*') text = Math.max(text, q)
  }
  return open > 0 && open >= text ? 'openmetrics' : 'prometheus'
}

/**
 * The registry's metrics in either format, written from `getMetricsAsJSON()`.
 * prom-client's own `metrics()` in OpenMetrics mode renames counters for good
 * (it strips `_total` from the metric objects), which would break every later
 * Prometheus-format scrape of the same registry: neither format goes through it.
 */
export async function expose (registry: Registry, format: ExpositionFormat): Promise<string> {
  const families = await registry.getMetricsAsJSON() as Array<MetricObjectWithValues<MetricValue<string>>>
  const open = format === 'openmetrics'
  const out: string[] = []
  for (const family of families) {
    const type = String(family.type)
    const counter = type === 'counter'
    // OpenMetrics: a counter family is named without `_total`; its sample has it.
    const name = open && counter && family.name.endsWith('_total') ? family.name.slice(0, -'_total'.length) : family.name
    out.push(`# HELP ${name} ${escapeHelp(family.help, open)}`, `# TYPE ${name} ${type === 'untyped' && open ? 'unknown' : type}`)
    for (const value of family.values) {
      const { metricName, labels } = value as MetricValue<string> & { metricName?: string }
      let sample = metricName ?? family.name
      if (open && counter && metricName === undefined) sample = `${name}_total`
      out.push(`${sample}${formatLabels(labels)} ${formatNumber(value.value)}`)
    }
  }
  if (open) out.push('# EOF')
  return out.join('\n') + '\n'
}

function escapeHelp (help: string, open: boolean): string {
  const escaped = help.replaceAll('\\', '\\\\').replaceAll('\n', '\\n')
  return open ? escaped.replaceAll('"', '\\"') : escaped
}

const NEEDS_ESCAPE = /[\\\n"]/

function escapeLabel (value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value
  return value.replaceAll('\\', '\\\\').replaceAll('\n', '\\n').replaceAll('"', '\\"')
}

/**
 * The rendered `{…}` of label objects that cannot change (frozen): the HTTP
 * metrics hand out the same ones on every scrape, and they are most of it.
 */
const rendered = new WeakMap<object, string>()

function formatLabels (labels: Partial<Record<string, string | number>>): string {
  const frozen = Object.isFrozen(labels)
  if (frozen) {
    const text = rendered.get(labels)
    if (text !== undefined) return text
  }
  const parts: string[] = []
  for (const [key, value] of Object.entries(labels)) {
    if (value === undefined) continue
    parts.push(`${key}="${escapeLabel(typeof value === 'number' ? formatNumber(value) : value)}"`)
  }
  const text = parts.length === 0 ? '' : `{${parts.join(',')}}`
  if (frozen) rendered.set(labels, text)
  return text
}

function formatNumber (n: number): string {
  if (Number.isNaN(n)) return 'NaN'
  if (n === Infinity) return '+Inf'
  if (n === -Infinity) return '-Inf'
  return String(n)
}
