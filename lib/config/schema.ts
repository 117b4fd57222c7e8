import { Kind, OptionalKind, type TObject, type TSchema } from '#typebox'
import { ERR_PYWATT_INVALID_OPTIONS } from '../errors.js'
import { unknownFormat, unknownFormatMessage } from '../schema/formats.js'

/** Where one field of the module's configuration is read from. */
export type ConfigSource =
  | { readonly kind: 'env', readonly name: string }
  | { readonly kind: 'secret', readonly name: string }

/** One field of the `config` schema, as the loader reads it. */
export interface ConfigField {
  readonly key: string
  readonly schema: TSchema
  readonly from: ConfigSource
  /** `Type.Optional`: the key may be absent from the configuration. */
  readonly optional: boolean
  /** The schema's `default`, if it has one. */
  readonly fallback: { readonly value: unknown } | undefined
}

/**
 * The environment name of a field: its key in UPPER_SNAKE_CASE
 * (`dbHost` → `DB_HOST`, `apiURL` → `API_URL`, `http2Port` → `HTTP2_PORT`).
 */
export function envName (key: string): string {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .toUpperCase()
}

/**
 * `schema`, read from the secret `name` instead of the environment (the same
 * as the schema option `secret: name`).
 */
export function configSecret<T extends TSchema> (schema: T, name: string): T {
  return { ...schema, secret: name }
}

function invalid (where: string, problem: string): never {
  throw new ERR_PYWATT_INVALID_OPTIONS(`config${where}: ${problem}`)
}

function nameOption (key: string, schema: TSchema, option: 'env' | 'secret'): string | undefined {
  const value: unknown = schema[option]
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value.trim() === '') invalid(`.${key}`, `the ${option} option must be a non-empty name`)
  return value
}

/**
 * The fields of the `config` option, which must be a TypeBox object schema.
 * Throws `FST_PYWATT_INVALID_OPTIONS` naming the field at fault.
 */
export function configFields (schema: unknown): ConfigField[] {
  const object = schema as Partial<TObject> | null
  if (object === null || typeof object !== 'object' || object[Kind] !== 'Object' || typeof object.properties !== 'object') {
    invalid('', 'must be a TypeBox object schema (Type.Object)')
  }
  return Object.entries(object.properties).map(([key, field]): ConfigField => {
    if (field === null || typeof field !== 'object' || typeof field[Kind] !== 'string') invalid(`.${key}`, 'must be a TypeBox schema')
    const env = nameOption(key, field, 'env')
    const secret = nameOption(key, field, 'secret')
    if (env !== undefined && secret !== undefined) invalid(`.${key}`, 'comes either from the environment (env) or from a secret (secret), not both')
    const format = unknownFormat(field)
    if (format !== undefined) invalid(`.${key}`, unknownFormatMessage(format))
    return {
      key,
      schema: field,
      from: secret === undefined ? { kind: 'env', name: env ?? envName(key) } : { kind: 'secret', name: secret },
      optional: field[OptionalKind] === 'Optional',
      fallback: 'default' in field ? { value: field.default } : undefined
    }
  })
}

/** The secrets the fields are read from, each once. */
export function configSecretNames (fields: readonly ConfigField[]): string[] {
  return [...new Set(fields.flatMap((f) => f.from.kind === 'secret' ? [f.from.name] : []))]
}
