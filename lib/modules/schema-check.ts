import { TypeCompiler, type TSchema, type TypeCheck } from '#typebox'
import { ERR_PYWATT_INVALID_OPTIONS } from '../errors.js'
import { unknownFormat, unknownFormatMessage } from '../schema/formats.js'

// A schema is compiled once, on its first payload, however many endpoints share it.
const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>()
// Schemas whose formats are all known: a request with a shared schema walks it once.
const knownGood = new WeakSet<TSchema>()

/**
 * Refuse, where the schemas are given, one that names a format with no check:
 * TypeBox would fail every payload against it.
 */
export function checkSchemaFormats (where: string, schemas: { request?: TSchema | undefined, answer?: TSchema | undefined } | undefined): void {
  for (const which of ['request', 'answer'] as const) {
    const schema = schemas?.[which]
    if (schema === undefined || knownGood.has(schema)) continue
    const found = unknownFormat(schema)
    if (found !== undefined) throw new ERR_PYWATT_INVALID_OPTIONS(`${where}: the ${which} schema names ${unknownFormatMessage(found)}`)
    knownGood.add(schema)
  }
}

/** What is wrong with `value` against `schema` (`path: message`), or `null` when it matches. */
export function problemOf (schema: TSchema | undefined, value: unknown): string | null {
  if (schema === undefined) return null
  let check = compiled.get(schema)
  if (check === undefined) {
    check = TypeCompiler.Compile(schema)
    compiled.set(schema, check)
  }
  if (check.Check(value)) return null
  const first = check.Errors(value).First()
  if (first === undefined) return 'does not match its schema'
  return `${first.path === '' ? '(root)' : first.path}: ${first.message}`
}
