import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { reachableFiles } from '../helpers/package-files.js'

// Node prints the line of the bundle that threw above an uncaught error's
// stack. (Run under tap, child processes get source maps, so the bundle is
// read directly.) The entries and the chunks they share are checked; the
// TypeBox bundle (dist/lib/typebox.js, third-party code) is fully minified.
const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const bundles = reachableFiles(ROOT).files
  .filter((file) => file !== 'dist/lib/typebox.js')
  .map((file) => [file, readFileSync(join(ROOT, file), 'utf8').split('\n')] as const)

t.test('the bundles (entries and the chunks they share) keep one statement per line: an uncaught error shows a readable line, not a minified wall', async (t) => {
  t.ok(bundles.some(([file]) => file.startsWith('dist/chunks/')), 'the shared chunks are read')
  let throwing = 0
  for (const [file, lines] of bundles) {
    const throws = lines.filter((l) => /\bthrow\b/.test(l))
    if (throws.length === 0) continue
    throwing++
    const longest = Math.max(...throws.map((l) => l.length))
    t.ok(longest < 400, `${file}: the longest line that throws is ${longest} characters`)
  }
  t.ok(throwing >= 5, `${throwing} bundles have throw sites`)
})
