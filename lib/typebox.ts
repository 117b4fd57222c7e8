/**
 * The one place runtime code takes TypeBox from, imported as `#typebox`
 * (package.json `imports`). `npm run build` replaces its output with a
 * single-file bundle: TypeBox ships as some 220 ES modules, and loading them one
 * by one cost about 75 ms of a module's cold start (against 9 ms bundled).
 */
export { FormatRegistry, Kind, OptionalKind, Type } from '@sinclair/typebox'
export type { Static, TLiteral, TNull, TOptional, TSchema, TUnion } from '@sinclair/typebox'
export { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
export { Errors, ValueErrorType, type ValueError } from '@sinclair/typebox/errors'
export { Check } from '@sinclair/typebox/value'
