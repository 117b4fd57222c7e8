import { SERIES, type Series } from './judge.js'
import type { SoakEvent } from './run.js'
import type { Sample } from './sample.js'

const PANEL = { width: 440, height: 230 }
const MARGIN = { left: 56, right: 14, top: 28, bottom: 34 }
const COLUMNS = 2
const HEADER = 50
const COLOURS = ['#1f77b4', '#2ca02c', '#9467bd', '#d62728']
const EVENT_COLOURS: Record<SoakEvent['kind'], string> = { rotation: '#ff7f0e', restart: '#17becf' }

const escape = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
const fmt = (n: number): string => Number.isInteger(n) ? String(n) : n.toFixed(Math.abs(n) < 10 ? 1 : 0)

/** A round step (1, 2 or 5 × 10ⁿ) that cuts `span` into about four intervals. */
function niceStep (span: number): number {
  if (!(span > 0)) return 1
  const raw = span / 4
  const power = 10 ** Math.floor(Math.log10(raw))
  const fraction = raw / power
  return (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * power
}

/** Ticks from 0 in round steps, the last at or above `max`. */
function ticks (max: number): number[] {
  const step = niceStep(max)
  const out = [0]
  while ((out[out.length - 1] as number) < max) out.push(Number((out.length * step).toPrecision(12)))
  return out
}

function panel (series: Series, colour: string, samples: readonly Sample[], warmup: number, events: readonly SoakEvent[], x0: number, y0: number): string {
  const w = PANEL.width - MARGIN.left - MARGIN.right
  const h = PANEL.height - MARGIN.top - MARGIN.bottom
  const left = x0 + MARGIN.left
  const top = y0 + MARGIN.top
  const values = samples.map((s) => s[series.key] * series.scale)
  const tMax = Math.max(1, ...samples.map((s) => s.t))
  const highest = Math.max(...values, 0) * 1.05
  const yTicks = ticks(highest > 0 ? highest : 1)
  const yMax = yTicks[yTicks.length - 1] as number
  const xTicks = ticks(tMax).filter((t) => t <= tMax)
  const px = (t: number): number => left + (t / tMax) * w
  const py = (v: number): number => top + h - (v / yMax) * h
  const out: string[] = [
    `<text x="${left}" y="${y0 + 18}" class="title">${escape(series.label)}${series.unit === '' ? '' : ` (${series.unit})`}</text>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + h}" class="axis"/>`,
    `<line x1="${left}" y1="${top + h}" x2="${left + w}" y2="${top + h}" class="axis"/>`
  ]
  for (const v of yTicks) {
    const y = py(v).toFixed(1)
    out.push(`<line x1="${left}" y1="${y}" x2="${left + w}" y2="${y}" class="grid"/>`,
      `<text x="${left - 6}" y="${y}" class="ytick">${fmt(v)}</text>`)
  }
  for (const t of xTicks) {
    const x = px(t).toFixed(1)
    out.push(`<line x1="${x}" y1="${top + h}" x2="${x}" y2="${top + h + 4}" class="axis"/>`,
      `<text x="${x}" y="${top + h + 16}" class="xtick">${fmt(t)}</text>`)
  }
  out.push(`<text x="${left + w}" y="${top + h + 30}" class="xlabel">seconds</text>`)
  if (warmup > 0 && warmup < tMax) {
    const x = px(warmup).toFixed(1)
    out.push(`<line x1="${x}" y1="${top}" x2="${x}" y2="${top + h}" class="warmup"/>`,
      `<text x="${(px(warmup) + 4).toFixed(1)}" y="${top + 10}" class="note">warm-up</text>`)
  }
  for (const e of events) {
    if (e.t > tMax) continue
    const x = px(e.t).toFixed(1)
    const y = e.kind === 'rotation' ? top + h - 12 : top + h - 6
    out.push(`<line x1="${x}" y1="${y}" x2="${x}" y2="${y + 6}" stroke="${EVENT_COLOURS[e.kind]}" stroke-width="1.5"/>`)
  }
  const points = samples.map((s, i) => `${px(s.t).toFixed(1)},${py(values[i] as number).toFixed(1)}`).join(' ')
  out.push(`<polyline data-series="${series.key}" points="${points}" fill="none" stroke="${colour}" stroke-width="1.5"/>`)
  return out.join('\n')
}

/**
 * The soak's samples as an SVG: one panel per series (RSS, heap used, active
 * handles, event-loop delay p99) against time, the end of the warm-up dashed,
 * rotations and channel restarts as ticks along the time axis, `caption` as
 * the heading. Each series is one `<polyline data-series=…>`.
 */
export function plot (samples: readonly Sample[], warmup: number, events: readonly SoakEvent[], caption: string): string {
  const rows = Math.ceil(SERIES.length / COLUMNS)
  const width = PANEL.width * COLUMNS
  const height = HEADER + PANEL.height * rows
  const panels = SERIES.map((series, i) =>
    panel(series, COLOURS[i % COLOURS.length] as string, samples, warmup, events, (i % COLUMNS) * PANEL.width, HEADER + Math.floor(i / COLUMNS) * PANEL.height))
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">
<style>
.title { font-size: 13px; font-weight: bold }
.axis { stroke: #333 }
.grid { stroke: #ddd }
.warmup { stroke: #888; stroke-dasharray: 4 3 }
.ytick { text-anchor: end; dominant-baseline: middle }
.xtick { text-anchor: middle }
.xlabel { text-anchor: end; fill: #555 }
.note { fill: #888; font-size: 10px }
</style>
<rect width="${width}" height="${height}" fill="#fff"/>
<text x="12" y="22" font-size="14">${escape(caption)}</text>
<text x="12" y="40"><tspan fill="${EVENT_COLOURS.rotation}">| secret rotation</tspan>   <tspan fill="${EVENT_COLOURS.restart}">| channel restart</tspan>   <tspan fill="#888">- - end of warm-up (not judged before)</tspan></text>
${panels.join('\n')}
</svg>
`
}
