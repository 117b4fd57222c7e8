import os from 'node:os'
import { coldStart } from './cold-start.js'
import { logger } from './logger.js'
import { jwtBench } from './jwt.js'
import { http } from './http.js'
import { data } from './data.js'
import { pluginsBench } from './plugins.js'
import { channel } from './channel.js'
import { metricsBench } from './metrics.js'
import { scrubResponsesBench } from './scrub-responses.js'
import { migrateBench } from './migrate.js'
import { m2mBench } from './m2m.js'
import { formatSummary, type Row, type Section } from './report.js'

/**
 * `npm run bench`: every section measures a subject against a baseline taken
 * in the same run (interleaved rounds, medians), prints its measurements, and
 * returns summary rows. Targets are reported, never asserted.
 *
 * Add a section by writing a module that exports a {@link Section} and listing
 * it here.
 *
 * `node dist/bench/index.js logger` runs only the sections whose name contains
 * one of the arguments.
 */
const sections: Section[] = [
  coldStart,
  logger,
  jwtBench,
  http,
  data,
  pluginsBench,
  channel,
  metricsBench,
  scrubResponsesBench,
  migrateBench,
  m2mBench
]

const filters = process.argv.slice(2).map((a) => a.toLowerCase())
const selected = filters.length === 0 ? sections : sections.filter((s) => filters.some((f) => s.name.includes(f)))
if (selected.length === 0) {
  console.error(`no section matches ${filters.join(', ')}; sections: ${sections.map((s) => s.name).join(', ')}`)
  process.exit(2)
}

const cpus = os.cpus()
console.log(`fastify-pywatt bench  node ${process.version}  ${os.platform()}/${os.arch()}  ${cpus.length} x ${cpus[0]?.model.trim() ?? 'unknown cpu'}`)
const started = performance.now()
const rows: Row[] = []
for (const section of selected) {
  console.log(`\n== ${section.name}`)
  const t0 = performance.now()
  try {
    rows.push(...await section.run({ log: (line) => console.log(line) }))
  } catch (err) {
    // A crash is not a target miss: report it and go on with the other sections.
    console.error(`${section.name}: ${(err as Error).stack ?? String(err)}`)
    process.exitCode = 1
  }
  console.log(`(${section.name}: ${((performance.now() - t0) / 1000).toFixed(1)} s)`)
}

console.log(`\n== summary (${((performance.now() - started) / 1000).toFixed(1)} s)`)
for (const line of formatSummary(rows)) console.log(line)
