import { VERIFIED_CACHE_TTL, type KeyRing, type RingEntry } from './key-ring.js'

/**
 * Why a token was refused. Logged (never the token); the HTTP answer is the
 * same generic 401 for all of them.
 */
export const JWT_REASONS = {
  MISSING: 'FST_PYWATT_JWT_MISSING',
  TOO_LARGE: 'FST_PYWATT_JWT_TOO_LARGE',
  MALFORMED: 'FST_PYWATT_JWT_MALFORMED',
  ALGORITHM: 'FST_PYWATT_JWT_ALGORITHM',
  SIGNATURE: 'FST_PYWATT_JWT_SIGNATURE',
  UNKNOWN_KID: 'FST_PYWATT_JWT_UNKNOWN_KID',
  EXPIRED: 'FST_PYWATT_JWT_EXPIRED',
  INACTIVE: 'FST_PYWATT_JWT_INACTIVE',
  CLAIMS: 'FST_PYWATT_JWT_CLAIMS',
  NO_KEY: 'FST_PYWATT_JWT_NO_KEY',
  REMOTE: 'FST_PYWATT_JWT_REMOTE'
} as const
export type JwtReason = typeof JWT_REASONS[keyof typeof JWT_REASONS]

/** A refused token: the reason code and a short description (no token, no key). */
export class JwtRejection extends Error {
  readonly reason: JwtReason
  constructor (reason: JwtReason, detail: string) {
    super(detail)
    this.name = 'JwtRejection'
    this.reason = reason
  }
}

const FAST_JWT_REASONS: Record<string, JwtReason> = {
  FAST_JWT_INVALID_TYPE: JWT_REASONS.MALFORMED,
  FAST_JWT_MALFORMED: JWT_REASONS.MALFORMED,
  FAST_JWT_INVALID_PAYLOAD: JWT_REASONS.MALFORMED,
  FAST_JWT_INVALID_CRIT_HEADER: JWT_REASONS.MALFORMED,
  FAST_JWT_INVALID_ALGORITHM: JWT_REASONS.ALGORITHM,
  FAST_JWT_EXPIRED: JWT_REASONS.EXPIRED,
  FAST_JWT_INACTIVE: JWT_REASONS.INACTIVE,
  FAST_JWT_MISSING_REQUIRED_CLAIM: JWT_REASONS.CLAIMS,
  FAST_JWT_INVALID_CLAIM_TYPE: JWT_REASONS.CLAIMS,
  FAST_JWT_INVALID_CLAIM_VALUE: JWT_REASONS.CLAIMS
}

/** fast-jwt's error → our reason; anything else (signature, key, verify errors) is a signature failure. */
export function reasonOf (err: unknown): JwtRejection {
  if (err instanceof JwtRejection) return err
  const { code, message } = err as { code?: unknown, message?: unknown }
  const reason = (typeof code === 'string' ? FAST_JWT_REASONS[code] : undefined) ?? JWT_REASONS.SIGNATURE
  return new JwtRejection(reason, typeof message === 'string' ? message : String(err))
}

const REASONS: ReadonlySet<unknown> = new Set(Object.values(JWT_REASONS))
const isJwtReason = (value: unknown): value is JwtReason => REASONS.has(value)

/** @fastify/jwt's errors (`request.jwtVerify`) → our reason. */
const FASTIFY_JWT_REASONS: Record<string, JwtReason> = {
  FST_JWT_NO_AUTHORIZATION_IN_HEADER: JWT_REASONS.MISSING,
  // An Authorization header that is not `Bearer <token>`.
  FST_JWT_BAD_REQUEST: JWT_REASONS.MISSING,
  FST_JWT_AUTHORIZATION_TOKEN_EXPIRED: JWT_REASONS.EXPIRED,
  // A bad key, signature or claim value, or a missing claim: @fastify/jwt keeps no detail of which.
  FST_JWT_AUTHORIZATION_TOKEN_INVALID: JWT_REASONS.SIGNATURE,
  FST_JWT_AUTHORIZATION_TOKEN_UNTRUSTED: JWT_REASONS.CLAIMS
}

/** Why `request.jwtVerify` refused: our own refusal (an unknown kid) carries its reason; fast-jwt's codes pass through @fastify/jwt unwrapped. */
export function fastifyJwtReason (err: Error): JwtReason {
  const { code, reason } = err as { code?: unknown, reason?: unknown }
  if (isJwtReason(reason)) return reason
  return (typeof code === 'string' ? FASTIFY_JWT_REASONS[code] : undefined) ?? reasonOf(err).reason
}

/** Three base64url segments; the signature may be empty (and is then refused as missing). */
const SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/
const BEARER = /^Bearer +([^ ]+) *$/i

/** The token of an `Authorization: Bearer <token>` header, or a rejection. */
export function bearerToken (header: string | undefined, maxLength: number): string {
  if (header === undefined || header.length === 0) throw new JwtRejection(JWT_REASONS.MISSING, 'no Authorization header')
  if (header.length > maxLength + 32) throw new JwtRejection(JWT_REASONS.TOO_LARGE, `the Authorization header is over ${maxLength} characters`)
  const m = BEARER.exec(header)
  if (m === null) throw new JwtRejection(JWT_REASONS.MISSING, 'the Authorization header is not "Bearer <token>"')
  return m[1] as string
}

interface Header { alg?: unknown, kid?: unknown }

function decodeHeader (token: string): Header {
  const segment = token.slice(0, token.indexOf('.'))
  let header: unknown
  try {
    header = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'))
  } catch {
    throw new JwtRejection(JWT_REASONS.MALFORMED, 'the header is not JSON')
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new JwtRejection(JWT_REASONS.MALFORMED, 'the header is not a JSON object')
  }
  return header as Header
}

/** What a verification needs besides the ring. */
export interface VerifyPolicy {
  maxTokenLength: number
  clockTolerance: number
  /** Every algorithm of the allow-list. */
  algorithms: readonly string[]
  /** The `maxAge` verifiers check, in milliseconds. */
  maxAge?: number
  now?: () => number
}

/**
 * Verify `token` against the ring: a token verified in full before by a key
 * that is still live is recalled (inside its validity window only); otherwise
 * shape and size first (cheap), then the key by `kid` (an unknown kid is a
 * rejection, never a lookup error), or each live key in turn for a token
 * without one (current key first, then the keys in their overlap window).
 * Returns the claims (a fresh object every call).
 */
export function verifyToken (ring: KeyRing, token: string, policy: VerifyPolicy): Record<string, unknown> {
  if (token.length > policy.maxTokenLength) throw new JwtRejection(JWT_REASONS.TOO_LARGE, `the token is over ${policy.maxTokenLength} characters`)
  const now = (policy.now ?? Date.now)()
  const recalled = ring.recall(token, now)
  if (recalled !== undefined) return recalled
  if (!SHAPE.test(token)) throw new JwtRejection(JWT_REASONS.MALFORMED, 'the token is not three base64url segments')
  const header = decodeHeader(token)
  if (typeof header.alg !== 'string' || !policy.algorithms.includes(header.alg)) {
    throw new JwtRejection(JWT_REASONS.ALGORITHM, 'the token algorithm is not allowed')
  }
  if (!ring.ready) throw new JwtRejection(JWT_REASONS.NO_KEY, 'no verification key is installed')
  if (header.kid !== undefined) {
    if (typeof header.kid !== 'string' || header.kid.length === 0) throw new JwtRejection(JWT_REASONS.MALFORMED, 'the kid header is not a non-empty string')
    const entry = ring.byKid(header.kid)
    if (entry === undefined) throw new JwtRejection(JWT_REASONS.UNKNOWN_KID, 'no live key has this kid')
    return verifyWith(ring, entry, token, policy, now)
  }
  let last = new JwtRejection(JWT_REASONS.NO_KEY, 'no verification key is installed')
  for (const entry of ring.candidates()) {
    try {
      return verifyWith(ring, entry, token, policy, now)
    } catch (err) {
      last = err as JwtRejection
      // Only a signature that does not match this key means "try the next key";
      // a token this key signed but whose claims fail is refused as it is.
      if (last.reason !== JWT_REASONS.SIGNATURE && last.reason !== JWT_REASONS.ALGORITHM) throw last
    }
  }
  throw last
}

/**
 * The checks fast-jwt does not make, on claims it accepted: the payload is an
 * object, and `iat` (which fast-jwt reads only through `maxAge`) is a number
 * not in the future. Every path that verifies a token applies them, so
 * `request.jwtVerify()` refuses what `auth: 'jwt'` refuses.
 */
export function checkBeyondFastJwt (claims: unknown, clockTolerance: number, now: number): asserts claims is Record<string, unknown> {
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) {
    throw new JwtRejection(JWT_REASONS.MALFORMED, 'the payload is not a JSON object')
  }
  const { iat } = claims as { iat?: unknown }
  if (iat !== undefined) {
    if (typeof iat !== 'number' || !Number.isFinite(iat)) throw new JwtRejection(JWT_REASONS.CLAIMS, 'the iat claim is not a number')
    if (iat * 1000 - clockTolerance > now) throw new JwtRejection(JWT_REASONS.INACTIVE, 'the token was issued in the future')
  }
}

/** Full verification with one key, the checks fast-jwt does not make, then remember the token. */
function verifyWith (ring: KeyRing, entry: RingEntry, token: string, policy: VerifyPolicy, now: number): Record<string, unknown> {
  let claims: Record<string, unknown>
  try {
    claims = entry.verify(token)
  } catch (err) {
    throw reasonOf(err)
  }
  checkBeyondFastJwt(claims, policy.clockTolerance, now)
  const tolerance = policy.clockTolerance
  const { iat, nbf, exp } = claims
  // The window in which the time checks above and fast-jwt's (nbf, exp, maxAge) hold, narrowed
  // to the cache TTL: [from, until).
  let from = -Infinity
  let until = now + VERIFIED_CACHE_TTL
  if (typeof iat === 'number') {
    from = iat * 1000 - tolerance
    if (policy.maxAge !== undefined) until = Math.min(until, iat * 1000 + policy.maxAge)
  }
  if (typeof nbf === 'number') from = Math.max(from, nbf * 1000 - tolerance)
  if (typeof exp === 'number') until = Math.min(until, exp * 1000 + tolerance)
  ring.remember(token, entry, claims, from, until)
  return claims
}
