import t from 'tap'
import { readFileSync } from 'node:fs'
import * as errors from '../../lib/errors.js'
import { JWT_REASONS } from '../../lib/auth/verify.js'

/** Codes documented in the README's "Error codes" table; `_REST` abbreviations expand from the row's first code. */
function documentedCodes (): string[] {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
  const start = readme.indexOf('\n## Error codes\n')
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1))
  const codes: string[] = []
  for (const row of section.split('\n').filter((l) => l.startsWith('| `'))) {
    const cell = row.split('|')[1] ?? ''
    const names = [...cell.matchAll(/`([A-Z_]+)`/g)].map((m) => m[1] as string)
    const first = names[0] as string
    const prefix = first.slice(0, first.lastIndexOf('_'))
    for (const name of names) codes.push(name.startsWith('_') ? `${prefix}${name}` : name)
  }
  return codes
}

t.test('every error code and JWT refusal reason is in the README error table, and the table names no other', async (t) => {
  const thrown = Object.values(errors).map((E) => new (E as unknown as new (...a: unknown[]) => { code: string })('x', 0).code)
  const expected = new Set([...thrown, ...Object.values(JWT_REASONS)])
  const documented = documentedCodes()
  t.same([...new Set(documented)].sort(), [...expected].sort())
  t.equal(documented.length, new Set(documented).size, 'each code documented once')
})
