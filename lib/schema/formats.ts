import { FormatRegistry } from '#typebox'
import { ERR_PYWATT_INVALID_OPTIONS } from '../errors.js'

/**
 * Make `format: name` known to the schemas fastify-pywatt checks (`config`,
 * module request and answer schemas). The package carries its own copy of
 * TypeBox, so a format registered with the application's `@sinclair/typebox`
 * is not seen by it: register it here. A name already known is replaced.
 */
export function registerFormat (name: string, check: (text: string) => boolean): void {
  if (typeof name !== 'string' || name === '') throw new ERR_PYWATT_INVALID_OPTIONS('registerFormat(): the name must be a non-empty string')
  if (typeof check !== 'function') throw new ERR_PYWATT_INVALID_OPTIONS(`registerFormat(): the check of ${name} must be a function`)
  FormatRegistry.Set(name, check)
}

/** The formats a schema may name, for an error message (the suite's own are left out). */
export function knownFormats (): string[] {
  return [...FormatRegistry.Entries().keys()].filter((name) => !name.startsWith('pywatt-')).sort()
}

// Keywords whose values are data, not schemas: a `format` key inside them is not a format.
const DATA_KEYWORDS = new Set(['default', 'examples', 'const', 'enum'])

/**
 * The first `format` in `schema`, at any depth, that has no registered check,
 * and where: `.key` for a property, `[]` for array items. TypeBox would fail
 * every value against it, so it is refused when the schema is given.
 */
export function unknownFormat (schema: unknown, path = ''): { format: string, path: string } | undefined {
  if (schema === null || typeof schema !== 'object') return undefined
  if (Array.isArray(schema)) {
    for (const item of schema) {
      const found = unknownFormat(item, path)
      if (found !== undefined) return found
    }
    return undefined
  }
  const node = schema as Record<string, unknown>
  if (typeof node.format === 'string' && !FormatRegistry.Has(node.format)) return { format: node.format, path }
  for (const [key, value] of Object.entries(node)) {
    if (DATA_KEYWORDS.has(key)) continue
    let found
    if (key === 'properties' && value !== null && typeof value === 'object') {
      for (const [name, property] of Object.entries(value)) {
        found = unknownFormat(property, `${path}.${name}`)
        if (found !== undefined) return found
      }
      continue
    }
    found = unknownFormat(value, key === 'items' ? `${path}[]` : path)
    if (found !== undefined) return found
  }
  return undefined
}

/** The error for an unknown format, naming where it is and what is known. */
export function unknownFormatMessage (found: { format: string, path: string }): string {
  return `format '${found.format}'${found.path === '' ? '' : ` (at ${found.path.replace(/^\./, '')})`} is not known: use one of ${knownFormats().join(', ')}, or registerFormat() it`
}
