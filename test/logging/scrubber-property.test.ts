import t from 'tap'
import fc from 'fast-check'
import { pywattLogger } from '../../lib/logging/logger.js'
import { registerSecret } from '../../lib/logging/registry.js'
import { encodingsOf, MIN_SECRET_LENGTH, REDACTED } from '../../lib/logging/scrubber.js'

// Characters that make JSON escapes, structure and literals.
const tricky = fc.string({ unit: fc.constantFrom('\\', '"', 'u', '0', 'e', '9', 'n', 'l', 't', '{', '}', '[', ':', ',', ' ', '\n', '\u0001', 'é', '😀'), minLength: 1, maxLength: 10 })

const secret = fc.oneof(
  fc.constantFrom('true', 'false', 'null', 'time', 'level', 'msg', 'hostname', '"msg":', '","', '":"', '\\u00', 'u00e9', '\\n', 'DACTED', '[REDACTED]'),
  fc.integer().map(String),
  fc.double({ noNaN: true }).map(String),
  tricky,
  fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }),
  fc.string({ minLength: 1, maxLength: 16 })
)

const scenario = fc.uniqueArray(secret, { minLength: 1, maxLength: 4 }).chain((secrets) => {
  const some = fc.constantFrom(...secrets)
  const part = fc.oneof(fc.string({ maxLength: 6 }), tricky)
  const withSecret = fc.tuple(part, some, part, some).map((p) => p.join(''))
  const str = fc.oneof(fc.string({ unit: 'binary', maxLength: 20 }), tricky, withSecret, withSecret)
  // Keys may be, or contain, secrets and pino's own field names.
  const key = fc.oneof(fc.string({ maxLength: 8 }), some, fc.constantFrom('level', 'time', 'msg', 'pid'), withSecret)
  const { value } = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small' },
      str, fc.integer(), fc.double(), fc.boolean(), fc.constant(null),
      fc.array(tie('value'), { maxLength: 4 }),
      fc.dictionary(key, tie('value'), { maxKeys: 4 })
    )
  }))
  return fc.record({ secrets: fc.constant(secrets), fields: fc.dictionary(key, value, { maxKeys: 6 }), msg: fc.option(str, { nil: undefined }) })
})

/**
 * The forms a reader of the parsed line could find: every encoding but the
 * twice-escaped one, which a parsed string holds only when the line holds it
 * escaped three times (a JSON string in a JSON string in a log field).
 */
function readableForms (secret: string): string[] {
  const twice = JSON.stringify(JSON.stringify(secret).slice(1, -1)).slice(1, -1)
  return encodingsOf(secret).filter((f) => f !== twice || f === secret)
}

/** Every string value (not key) at any depth. */
function stringValues (value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value)
  else if (Array.isArray(value)) for (const v of value) stringValues(v, out)
  else if (value !== null && typeof value === 'object') for (const v of Object.values(value)) stringValues(v, out)
  return out
}

t.test('whatever is logged and whatever the secrets, lines stay JSON and no secret is left in a string value', async (t) => {
  const lines: string[] = []
  const log = pywattLogger({ level: 'info', destination: { write: (line: string) => { lines.push(line) } } })
  let checked = 0
  fc.assert(fc.property(scenario, ({ secrets, fields, msg }) => {
    for (const s of secrets) registerSecret(s)
    lines.length = 0
    log.info(fields, msg)
    const parsed: unknown = JSON.parse(lines[0])
    const scrubbed = secrets.filter((s) => s.length >= MIN_SECRET_LENGTH && s.trim() !== '')
    const forms = scrubbed.flatMap(readableForms)
    for (const text of stringValues(parsed)) {
      // The placeholder splits the text: what is left between placeholders must be clean.
      for (const piece of text.split(REDACTED)) {
        const leaked = forms.find((f) => piece.includes(f))
        if (leaked !== undefined) throw new Error(`${JSON.stringify(leaked)} left in ${JSON.stringify(text)} (line ${lines[0]})`)
      }
    }
    checked += scrubbed.length
  }), { numRuns: 400 })
  t.ok(checked > 100, `${checked} registered secrets were checked`)
})
