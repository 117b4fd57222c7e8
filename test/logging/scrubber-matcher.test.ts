import t from 'tap'
import { randomBytes } from 'node:crypto'
import { SecretScrubber, encodingsOf, REDACTED } from '../../lib/logging/scrubber.js'

// The reference the fast matcher must agree with: one alternation, longest first,
// which a regular expression scans leftmost-first.
function reference (values: string[], text: string, min: number): string {
  const forms = [...new Set(values.flatMap(encodingsOf))].filter((f) => f.length >= min).sort((a, b) => b.length - a.length)
  if (forms.length === 0) return text
  const re = new RegExp(forms.map((f) => f.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')).join('|'), 'g')
  return text.replace(re, REDACTED)
}

function prng (seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0
    return s / 4294967296
  }
}

t.test('agrees with a longest-first alternation on random texts built around secrets', async (t) => {
  const alphabet = 'abcdef"\\/+=é€ 0123'
  for (const seed of [1, 7, 42, 99, 2024, 31337]) {
    const rand = prng(seed)
    const word = (n: number): string => Array.from({ length: n }, () => alphabet[Math.floor(rand() * alphabet.length)]).join('')
    const min = 4
    const values = Array.from({ length: 1 + Math.floor(rand() * 6) }, () => word(min + Math.floor(rand() * 8)))
    // Overlapping secrets: a value and one that contains it.
    values.push(values[0] + word(3))
    const s = new SecretScrubber()
    for (const v of values) s.add(v)
    for (let i = 0; i < 200; i++) {
      const parts: string[] = []
      for (let k = 0; k < 6; k++) {
        const v = values[Math.floor(rand() * values.length)]
        const forms = encodingsOf(v)
        parts.push(word(Math.floor(rand() * 10)), rand() < 0.6 ? forms[Math.floor(rand() * forms.length)] : v.slice(0, -1))
      }
      const text = parts.join('')
      t.equal(s.scrub(text), reference(values, text, min), `seed ${seed} text ${i}`)
    }
  }
})

t.test('random 24–40 character keys among log-like text', async (t) => {
  const values = Array.from({ length: 20 }, (_, i) => randomBytes(18 + i).toString('base64url'))
  const s = new SecretScrubber()
  for (const v of values) s.add(v)
  const line = JSON.stringify({ level: 30, msg: `user logged in with ${values[3]} and ${Buffer.from(values[7]).toString('hex')}`, nested: { k: values[19] } })
  const out = s.scrub(line)
  t.equal(out, reference(values, line, 4))
  t.equal(out.split(REDACTED).length - 1, 3)
  for (const v of values) t.notOk(out.includes(v))
  t.equal(s.scrub('nothing to see here'), 'nothing to see here')
  t.equal(s.scrub(''), '')
})

t.test('values registered between lines, longer and shorter than the window, agree with the reference', async (t) => {
  const rand = prng(5)
  const alphabet = 'abcdef"\\/+=é€ 0123'
  const word = (n: number): string => Array.from({ length: n }, () => alphabet[Math.floor(rand() * alphabet.length)]).join('')
  // Long values first (added in place), then ever shorter ones (each a rebuild), then long again.
  const lengths = [60, 45, 33, 40, 28, 50, 20, 12, 70, 8, 5, 4, 90, 35]
  const s = new SecretScrubber()
  const values: string[] = []
  for (const n of lengths) {
    values.push(word(n))
    s.add(values.at(-1) as string)
    for (let i = 0; i < 40; i++) {
      const v = values[Math.floor(rand() * values.length)]
      const forms = encodingsOf(v)
      const text = word(Math.floor(rand() * 12)) + forms[Math.floor(rand() * forms.length)] + word(Math.floor(rand() * 12)) + v.slice(1)
      t.equal(s.scrub(text), reference(values, text, 4), `after ${values.length} values, text ${i}`)
    }
  }
})

t.test('registering 2,000 values with a line scrubbed after each costs time linear in their number', async (t) => {
  const s = new SecretScrubber()
  s.add('a-first-value-that-sets-the-window')
  const line = JSON.stringify({ level: 30, time: 1796403191629, msg: 'request served', url: '/api/items?limit=20' })
  const cpu = process.cpuUsage()
  for (let i = 0; i < 2000; i++) {
    s.add(`${randomBytes(24).toString('base64url')}-${i}`)
    s.scrub(line)
  }
  const used = process.cpuUsage(cpu)
  const ms = (used.user + used.system) / 1000
  t.ok(ms < 1000, `${ms.toFixed(0)} ms of CPU`)
  t.equal(s.size, 2001)
})
