import path from 'node:path'
import { parseArgs } from 'node:util'
import { summarise, writeReport } from './output.js'
import { runSoak } from './run.js'

/**
 * `npm run soak [-- --duration 30s --out soak.svg --rate 150]`: the example
 * module under load, secret rotations and channel restarts for a while (5
 * minutes by default, or `SOAK_DURATION`), then a verdict on its memory,
 * handles and event-loop delay (bounds in judge.ts), a plot of them (SVG) and
 * the samples (JSON next to it). Exit 1 with the reasons when a bound is
 * exceeded or a request failed or went unanswered.
 */

/** `300`, `300s`, `5m`, `1500ms` → milliseconds. */
function duration (text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim())
  if (m === null) throw new Error(`not a duration: ${text} (e.g. 30s, 5m, 1500ms)`)
  const unit = m[2] === 'ms' ? 1 : m[2] === 'm' ? 60_000 : 1_000
  return Number(m[1]) * unit
}

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: process.env.SOAK_DURATION ?? '5m' },
    warmup: { type: 'string' },
    rate: { type: 'string' },
    out: { type: 'string', default: 'soak.svg' }
  }
})
let durationMs: number
let warmupMs: number | undefined
try {
  durationMs = duration(values.duration)
  warmupMs = values.warmup === undefined ? undefined : duration(values.warmup)
} catch (err) {
  console.error((err as Error).message)
  process.exit(2)
}
const svgPath = path.resolve(values.out)
const report = await runSoak({
  durationMs,
  ...(warmupMs === undefined ? {} : { warmupMs }),
  ...(values.rate === undefined ? {} : { rate: Number(values.rate) }),
  log: (line) => console.log(line)
})
const jsonPath = await writeReport(report, svgPath)
for (const line of summarise(report)) console.log(line)
console.log(`plot: ${svgPath}\nsamples: ${jsonPath}`)
if (!report.passed) {
  console.error(`soak failed:\n- ${report.failures.join('\n- ')}`)
  process.exitCode = 1
}
