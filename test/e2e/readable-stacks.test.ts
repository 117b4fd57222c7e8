import t from 'tap'
import { readFileSync } from 'node:fs'

// Node prints the line of the bundle that threw above an uncaught error's
// stack. (Run under tap, child processes get source maps, so the bundle is
// read directly.)
const bundles = ['index', 'jwt', 'ipc-http', 'port-negotiation']
  .map((name) => [name, readFileSync(new URL(`../../dist/plugins/${name}.js`, import.meta.url), 'utf8').split('\n')] as const)

t.test('the bundled plugins keep one statement per line: an uncaught error shows a readable line, not a minified wall', async (t) => {
  for (const [name, lines] of bundles) {
    const throws = lines.filter((l) => /\bthrow\b/.test(l))
    t.ok(throws.length > 0, `${name}.js has throw sites`)
    const longest = Math.max(...throws.map((l) => l.length))
    t.ok(longest < 400, `${name}.js: the longest line that throws is ${longest} characters`)
  }
})
