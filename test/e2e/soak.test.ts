import t from 'tap'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DEFAULT_BOUNDS, judge, SERIES } from '../../bench/soak/judge.js'
import { writeReport } from '../../bench/soak/output.js'
import { runSoak, type SoakReport } from '../../bench/soak/run.js'
import type { Sample } from '../../bench/soak/sample.js'
import { EXAMPLE } from '../helpers/modules.js'

/**
 * The short variant of `npm run soak` (bench/soak): the same runner for 20 s
 * against the built example, then the same report files. Its event-loop bound
 * is lifted here: a test asserts no times, and a shared CI machine would
 * decide it; memory, handles and every request answered stay judged.
 */

const MiB = 1024 * 1024

/** The points of each `<polyline data-series=…>` of an SVG. */
function polylines (svg: string): Map<string, Array<[number, number]>> {
  const out = new Map<string, Array<[number, number]>>()
  for (const m of svg.matchAll(/<polyline data-series="([^"]+)" points="([^"]*)"/g)) {
    const points = (m[2] as string).split(' ').map((p) => p.split(',').map(Number) as [number, number])
    out.set(m[1] as string, [...(out.get(m[1] as string) ?? []), ...points])
  }
  return out
}

t.test('a 20 s soak of the example over HTTP, stdio and the TCP channel, with rotations and channel restarts, stays within its bounds', async (t) => {
  const report = await runSoak({ durationMs: 20_000, warmupMs: 3_000, script: EXAMPLE, bounds: { loopP99Ms: Infinity } })
  t.same(report.failures, [], 'no bound exceeded, no request failed or unanswered')
  t.ok(report.passed)
  for (const transport of ['http', 'stdio', 'tcp'] as const) {
    const counts = report.requests[transport]
    t.ok(counts.ok >= 100, `${transport}: ${counts.ok} requests answered 2xx`)
    t.equal(counts.failed + counts.unanswered, 0, `${transport}: none failed or unanswered`)
  }
  t.ok(report.rotations.sent >= 3 && report.rotations.acked === report.rotations.sent, `${report.rotations.acked}/${report.rotations.sent} rotations acked`)
  t.ok(report.channelRestarts >= 2, `${report.channelRestarts} channel restarts, each reconnected`)
  t.same([report.events.filter((e) => e.kind === 'rotation').length, report.events.filter((e) => e.kind === 'restart').length],
    [report.rotations.acked, report.channelRestarts], 'each rotation and restart is placed on the time axis')
  t.same(report.exit, { code: 0, signal: null }, 'the module stopped cleanly at the end')
  t.ok(report.samples.length > 10, `${report.samples.length} samples`)
  t.ok(report.samples.every((s) => s.rss > 10 * MiB && s.heapUsed > MiB && s.handles > 0 && Number.isFinite(s.loopP99)), 'every sample holds a reading of each series')

  const dir = mkdtempSync(join(tmpdir(), 'pywatt-soak-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const svgPath = join(dir, 'soak.svg')
  const jsonPath = await writeReport(report, svgPath)
  t.equal(jsonPath, join(dir, 'soak.json'), 'the JSON lies next to the SVG')
  const svg = readFileSync(svgPath, 'utf8')
  const viewBox = /viewBox="0 0 (\d+) (\d+)"/.exec(svg)
  const [width, height] = [Number(viewBox?.[1]), Number(viewBox?.[2])]
  const lines = polylines(svg)
  t.same([...lines.keys()].sort(), SERIES.map((s) => s.key).sort(), 'one polyline per series')
  for (const [key, points] of lines) {
    t.equal(points.length, report.samples.length, `${key}: a point per sample (${points.length})`)
    t.ok(points.every(([x, y]) => x >= 0 && x <= width && y >= 0 && y <= height), `${key}: every point inside the picture`)
  }
  const saved = JSON.parse(readFileSync(jsonPath, 'utf8')) as SoakReport
  t.same(saved.samples, report.samples, 'the JSON holds the samples')
})

/** `n` samples a second apart, each field from `f(i)`. */
const series = (n: number, f: (i: number) => Partial<Sample>): Sample[] =>
  Array.from({ length: n }, (_, i) => ({ t: i, rss: 100 * MiB, heapUsed: 20 * MiB, handles: 12, loopP99: 11, ...f(i) }))

t.test('the judge: steady series pass; growth, a leak of handles, a slow loop and too few samples fail', async (t) => {
  t.same(judge(series(40, (i) => ({ heapUsed: (20 + (i % 5)) * MiB })), 4, DEFAULT_BOUNDS).failures, [], 'a GC sawtooth is no growth')
  const rss = judge(series(40, (i) => ({ rss: (100 + 2 * i) * MiB })), 4, DEFAULT_BOUNDS)
  t.match(rss.failures, [/^RSS grew from 1\d\d\.\d MiB to 1\d\d\.\d MiB/], '+2 MiB a second fails the RSS bound')
  t.match(judge(series(40, (i) => ({ heapUsed: (20 + i) * MiB })), 4, DEFAULT_BOUNDS).failures, [/^heap used grew/])
  t.match(judge(series(40, (i) => ({ handles: 12 + i })), 4, DEFAULT_BOUNDS).failures, [/^active handles grew from 20 to 47/])
  t.match(judge(series(40, (i) => ({ loopP99: i < 20 ? 11 : 250 })), 4, DEFAULT_BOUNDS).failures, [/^event-loop delay p99 was 250\.0 ms/])
  t.match(judge(series(10, () => ({})), 4, DEFAULT_BOUNDS).failures, [/^6 samples after the 4 s warm-up/])
  const drift = judge(series(40, (i) => ({ rss: (100 + 2 * i) * MiB })), 4, DEFAULT_BOUNDS).drift.rss
  t.same(drift, { first: 116 * MiB, last: 170 * MiB, max: 178 * MiB }, 'medians of the first and last quarters after warm-up')
})
