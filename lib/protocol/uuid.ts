/**
 * UUID text forms (docs/protocol.md §2.5): the `uuid` crate reads hyphenated, simple
 * (32 hex digits), braced and `urn:uuid:` forms, hex digits in any case, and
 * always writes hyphenated lower case.
 */

const HYPHENATED = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}'

/** Every form serde accepts for a `Uuid`, as a regular-expression source. */
export const UUID_PATTERN = `^(?:[0-9a-fA-F]{32}|${HYPHENATED}|\\{${HYPHENATED}\\}|urn:uuid:${HYPHENATED})$`

const UUID = new RegExp(UUID_PATTERN)

/** Whether `text` is a UUID in one of the forms serde accepts. */
export function isUuid (text: string): boolean {
  return UUID.test(text)
}

/**
 * The hyphenated lower-case form of a UUID given in any accepted form.
 * Assumes `isUuid(uuid)`.
 */
export function normaliseUuid (uuid: string): string {
  const hex = uuid.replace(/^urn:uuid:/, '').replace(/[{}-]/g, '').toLowerCase()
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}
