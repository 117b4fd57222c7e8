/**
 * The one place runtime code takes TypeBox from, imported as `#typebox`
 * (package.json `imports`). `npm run build` replaces its output with a
 * single-file bundle: TypeBox ships as some 220 ES modules, and loading them one
 * by one cost about 75 ms of a module's cold start (against 9 ms bundled).
 */
import { Array as TArray, Boolean as TBoolean, FormatRegistry, Integer, Literal, Null, Number as TNumber, Object as TypeObject, Optional, Record as TRecord, String as TString, Union, Unknown } from '@sinclair/typebox'
import { STRING_FORMATS } from './schema/string-formats.js'

export { FormatRegistry, Kind, OptionalKind } from '@sinclair/typebox'

// Here, so that every check of the suite sees them, whichever module loads TypeBox first.
for (const [name, check] of Object.entries(STRING_FORMATS)) {
  if (!FormatRegistry.Has(name)) FormatRegistry.Set(name, check)
}

/**
 * The type builders the suite uses, as TypeBox's `Type` namespace spells them.
 * `Type` itself reaches every builder TypeBox has, so a bundle that imports it
 * carries them all (46 KB minified against 9 KB for these).
 */
export const Type = { Array: TArray, Boolean: TBoolean, Integer, Literal, Null, Number: TNumber, Object: TypeObject, Optional, Record: TRecord, String: TString, Union, Unknown }
export type { Static, TLiteral, TNull, TObject, TOptional, TSchema, TUnion, TUnknown } from '@sinclair/typebox'
export { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
export { Errors, ValueErrorType, type ValueError } from '@sinclair/typebox/errors'
export { Check } from '@sinclair/typebox/value'
