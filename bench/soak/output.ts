import { writeFile } from 'node:fs/promises'
import { TRANSPORTS } from './load.js'
import { plot } from './plot.js'
import type { SoakReport } from './run.js'

const MiB = 1024 * 1024

/** The report in a few lines: what ran, what was served, how each series moved. */
export function summarise (r: SoakReport): string[] {
  const served = TRANSPORTS.map((t) => {
    const c = r.requests[t]
    return c === undefined ? `${t} 0` : `${t} ${c.ok}${c.rerouted > 0 ? ` (${c.rerouted} answered on stdio after a drop)` : ''}`
  })
  const { rss, heapUsed, handles, loopP99 } = r.drift
  return [
    `${r.seconds.toFixed(0)} s (warm-up ${r.warmupSeconds.toFixed(0)} s), ${r.rate} req/s per transport, node ${r.machine.node}, ${r.machine.cpus}`,
    `served: ${served.join(', ')}; rotations ${r.rotations.acked}/${r.rotations.sent} acked; channel restarts ${r.channelRestarts}; heartbeats ${r.heartbeats.acked}/${r.heartbeats.sent} acked`,
    `median first → last quarter: RSS ${(rss.first / MiB).toFixed(1)} → ${(rss.last / MiB).toFixed(1)} MiB, heap used ${(heapUsed.first / MiB).toFixed(1)} → ${(heapUsed.last / MiB).toFixed(1)} MiB, handles ${handles.first} → ${handles.last}, event-loop p99 ${loopP99.first.toFixed(1)} → ${loopP99.last.toFixed(1)} ms (max ${loopP99.max.toFixed(1)} ms)`
  ]
}

/**
 * Write the plot to `svgPath` and the whole report, samples included, to the
 * same path with `.json` for `.svg`; resolves with the JSON's path.
 */
export async function writeReport (report: SoakReport, svgPath: string): Promise<string> {
  const jsonPath = svgPath.replace(/\.svg$/i, '') + '.json'
  await writeFile(svgPath, plot(report.samples, report.warmupSeconds, report.events, `Soak: ${summarise(report)[0] ?? ''}`))
  await writeFile(jsonPath, JSON.stringify(report, null, 2) + '\n')
  return jsonPath
}
