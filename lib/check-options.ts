import { Check, Errors, type Static, type TSchema } from '#typebox'
import { ERR_PYWATT_INVALID_OPTIONS } from './errors.js'

/**
 * Throw `FST_PYWATT_INVALID_OPTIONS` naming the first problem of a plugin's
 * options: `label` (the sub-plugin, or none for the root), the option's path,
 * TypeBox's message. Options are checked once per registration, so the schema
 * is interpreted, not compiled.
 */
export function checkOptions<S extends TSchema> (schema: S, value: unknown, label?: string): asserts value is Static<S> {
  if (Check(schema, value)) return
  const first = Errors(schema, value).First()
  const where = first === undefined || first.path === '' ? 'options' : first.path.slice(1).replaceAll('/', '.')
  throw new ERR_PYWATT_INVALID_OPTIONS(`${label === undefined ? '' : `${label} `}${where}: ${first?.message ?? 'invalid'}`)
}
