import { createHash, timingSafeEqual } from 'node:crypto'

const digest = (s: string): Buffer => createHash('sha256').update(s).digest()

/**
 * Whether an `Authorization` header carries `Bearer <expected>` (scheme
 * case-insensitive). Compared as SHA-256 digests in constant time, so neither
 * the token nor its length leaks through timing. No expected token (a secret
 * not available): refused.
 */
export function bearerMatches (header: string | undefined, expected: string | undefined): boolean {
  if (expected === undefined || expected === '' || header === undefined) return false
  const match = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(header)
  if (match === null) return false
  return timingSafeEqual(digest(match[1] as string), digest(expected))
}
