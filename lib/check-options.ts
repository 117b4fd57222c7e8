import { Check, Errors, type Static, type TSchema, type ValueError } from '#typebox'
import { ERR_PYWATT_INVALID_OPTIONS } from './errors.js'

/**
 * The most specific problem behind `error`: an option that is a union
 * (`false` or an object of settings) fails as "Expected union value"; the
 * variant whose own first problem lies deepest names the field at fault.
 */
function innermost (error: ValueError): ValueError {
  let best = error
  for (const variant of error.errors) {
    const first = variant.First()
    if (first !== undefined && first.path.length > best.path.length) best = first
  }
  return best === error ? error : innermost(best)
}

/**
 * Throw `FST_PYWATT_INVALID_OPTIONS` naming the first problem of a plugin's
 * options: `label` (the sub-plugin, or none for the root), the option's path,
 * TypeBox's message. Options are checked once per registration, so the schema
 * is interpreted, not compiled.
 */
export function checkOptions<S extends TSchema> (schema: S, value: unknown, label?: string): asserts value is Static<S> {
  if (Check(schema, value)) return
  const found = Errors(schema, value).First()
  const first = found === undefined ? undefined : innermost(found)
  const where = first === undefined || first.path === '' ? 'options' : first.path.slice(1).replaceAll('/', '.')
  throw new ERR_PYWATT_INVALID_OPTIONS(`${label === undefined ? '' : `${label} `}${where}: ${first?.message ?? 'invalid'}`)
}
