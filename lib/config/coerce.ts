import { Check, Errors, type TSchema } from '#typebox'
import { BOOLEAN_WORDS, parseBoolean, parseInteger, parseNumber } from '../scalars.js'

/** A configuration value read from text, or what the schema expected instead. */
export type Coerced = { readonly ok: true, readonly value: unknown } | { readonly ok: false, readonly expected: string }

function quoted (value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : String(value)
}

/** What `schema` takes, in words for an error message. */
export function describe (schema: TSchema): string {
  if ('const' in schema) return quoted(schema.const)
  if (Array.isArray(schema.anyOf)) {
    const variants = schema.anyOf as TSchema[]
    if (variants.every((v) => 'const' in v)) return `one of ${variants.map((v) => quoted(v.const)).join(', ')}`
    return variants.map(describe).join(' or ')
  }
  switch (schema.type) {
    case 'integer': return 'an integer'
    case 'number': return 'a number'
    case 'boolean': return `a boolean (${BOOLEAN_WORDS})`
    case 'string': return 'a string'
    case 'array': return 'a JSON array'
    case 'object': return 'a JSON object'
    case 'null': return 'null'
    default: return 'a value'
  }
}

function json (text: string): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(text) }
  } catch {
    return undefined
  }
}

function some<T> (value: T | undefined): { value: T } | undefined {
  return value === undefined ? undefined : { value }
}

/** `text` in the shape of `schema`, before its constraints are checked; `undefined` if it has not that shape. */
function convert (schema: TSchema, text: string): { value: unknown } | undefined {
  const type = 'const' in schema ? typeof schema.const : schema.type
  switch (type) {
    case 'string': return { value: text }
    case 'integer': return some(parseInteger(text))
    case 'number': return some(parseNumber(text))
    case 'boolean': return some(parseBoolean(text))
    case 'null': return text.trim() === 'null' ? { value: null } : undefined
    case 'array':
    case 'object': return json(text)
    // Unknown, Any and the like take the text as it is.
    default: return { value: text }
  }
}

/**
 * `text` (an environment variable, a secret) as a value of `schema`: integers,
 * numbers and booleans parsed, literals and enums matched, arrays and objects
 * as JSON; a union takes its first variant that fits. The value must then pass
 * the schema (bounds, patterns, lengths). The outcome never quotes `text`,
 * which may be a secret.
 */
export function coerce (schema: TSchema, text: string): Coerced {
  if (Array.isArray(schema.anyOf)) {
    for (const variant of schema.anyOf as TSchema[]) {
      const tried = coerce(variant, text)
      if (tried.ok) return tried
    }
    return { ok: false, expected: describe(schema) }
  }
  const converted = convert(schema, text)
  if (converted === undefined) return { ok: false, expected: describe(schema) }
  return checked(schema, converted.value)
}

/** `value` if it passes `schema`, else what the schema expected and the first rule it broke. */
export function checked (schema: TSchema, value: unknown): Coerced {
  if (Check(schema, value)) return { ok: true, value }
  const first = Errors(schema, value).First()
  const rule = first === undefined ? '' : ` (${first.path === '' ? '' : `${first.path.slice(1).replaceAll('/', '.')}: `}${first.message})`
  return { ok: false, expected: `${describe(schema)}${rule}` }
}
