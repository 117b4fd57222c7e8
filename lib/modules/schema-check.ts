import { TypeCompiler, type TSchema, type TypeCheck } from '#typebox'

// A schema is compiled once, on its first payload, however many endpoints share it.
const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>()

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
