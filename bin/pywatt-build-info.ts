#!/usr/bin/env node
import { writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { BUILD_INFO_FILE, packageRoot } from '../lib/health/build-info.js'
import { collectBuildInfo } from '../lib/health/collect-build-info.js'

// A module's build runs this ("prebuild": "pywatt-build-info"); the root
// plugin reads the file at start and serves it as fastify.pywatt.build.
const usage = 'usage: pywatt-build-info [--dir DIR] [--out FILE]\n  writes pywatt-build.json next to the package.json at or above DIR (default: the working directory)'

let values: { dir?: string, out?: string, help?: boolean }
try {
  values = parseArgs({ options: { dir: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }).values
} catch (err) {
  process.stderr.write(`pywatt-build-info: ${(err as Error).message}\n${usage}\n`)
  process.exit(2)
}
if (values.help === true) {
  process.stdout.write(`${usage}\n`)
  process.exit(0)
}
const start = resolve(values.dir ?? '.')
const root = packageRoot(start) ?? start
const info = collectBuildInfo(root)
const out = resolve(values.out ?? join(root, BUILD_INFO_FILE))
writeFileSync(out, `${JSON.stringify(info, null, 2)}\n`)
process.stdout.write(`pywatt-build-info: ${out} (${info.name}@${info.version}, ${info.gitCommit}${info.gitDirty === true ? ', dirty' : ''})\n`)
