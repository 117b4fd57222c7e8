import { createHash, createHmac, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto'
import { ERR_PYWATT_JWT_KEY } from '../errors.js'

/** Signature algorithms the plugin accepts in its allow-list (`none` never). */
export const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const
export const ASYMMETRIC_ALGORITHMS = [
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'
] as const
export type JwtAlgorithm = typeof HMAC_ALGORITHMS[number] | typeof ASYMMETRIC_ALGORITHMS[number]

/** The key families; an algorithm only ever meets a key of its own family. */
export type KeyFamily = 'hmac' | 'rsa' | 'ec' | 'okp'

/** One usable key: its id, its family, what fast-jwt is handed, the algorithms it may check. */
export interface KeyMaterial {
  kid: string
  family: KeyFamily
  /** A string: fast-jwt prepares string keys once per verifier. HMAC: the secret; others: SPKI PEM. */
  key: string
  algorithms: JwtAlgorithm[]
}

export function isHmacAlgorithm (alg: string): boolean {
  return (HMAC_ALGORITHMS as readonly string[]).includes(alg)
}

/** The family of a public-key algorithm. */
function familyOfAlgorithm (alg: JwtAlgorithm): KeyFamily {
  if (alg.startsWith('RS') || alg.startsWith('PS')) return 'rsa'
  if (alg.startsWith('ES')) return 'ec'
  return 'okp'
}

const EC_CURVES: Record<string, string> = { ES256: 'prime256v1', ES384: 'secp384r1', ES512: 'secp521r1' }

/** The algorithms of `allowed` this public key can check (curve-exact for EC). */
function algorithmsForKey (key: KeyObject, allowed: readonly JwtAlgorithm[]): { family: KeyFamily, algorithms: JwtAlgorithm[] } {
  const type = key.asymmetricKeyType
  let family: KeyFamily
  // fast-jwt does not take RSA-PSS-only (OID rsassa-pss) keys; PS* use plain RSA keys.
  if (type === 'rsa') family = 'rsa'
  else if (type === 'ec') family = 'ec'
  else if (type === 'ed25519' || type === 'ed448') family = 'okp'
  else throw new ERR_PYWATT_JWT_KEY(`unsupported public key type ${String(type)}`)
  let algorithms = allowed.filter((alg) => familyOfAlgorithm(alg) === family)
  if (family === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve
    algorithms = algorithms.filter((alg) => EC_CURVES[alg] === curve)
  }
  if (algorithms.length === 0) {
    throw new ERR_PYWATT_JWT_KEY(`a ${String(type)} key cannot check any of the allowed algorithms (${allowed.join(', ')})`)
  }
  return { family, algorithms }
}

/** A stable, non-reversible id for an HMAC secret (never the secret, never a plain hash of it). */
export function hmacKid (secret: string): string {
  return createHmac('sha256', secret).update('fastify-pywatt jwt kid').digest('base64url').slice(0, 16)
}

function spkiKid (key: KeyObject): string {
  return createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('base64url').slice(0, 16)
}

function looksLikeAsymmetric (value: string): boolean {
  const text = value.trim()
  return text.includes('-----BEGIN') || text.startsWith('{')
}

function publicFromJwk (jwk: JsonWebKey): KeyObject {
  if ('d' in jwk) throw new ERR_PYWATT_JWT_KEY('the JWK holds a private key; give the public key only')
  try {
    return createPublicKey({ key: jwk, format: 'jwk' })
  } catch (err) {
    throw new ERR_PYWATT_JWT_KEY(`the JWK is not a usable public key: ${(err as Error).message}`)
  }
}

function asymmetricEntry (key: KeyObject, kid: string | undefined, allowed: readonly JwtAlgorithm[]): KeyMaterial {
  const { family, algorithms } = algorithmsForKey(key, allowed)
  return {
    kid: kid ?? spkiKid(key),
    family,
    key: key.export({ type: 'spki', format: 'pem' }) as string,
    algorithms
  }
}

/**
 * Turn the value of the key secret into keys, for the allowed algorithms.
 *
 * - HMAC: the UTF-8 bytes of the string (as the Rust SDK does). A value that
 *   looks like a PEM or JWK is refused: a public key must never become an HMAC
 *   secret (algorithm confusion).
 * - Asymmetric: a public key as PEM (SPKI or PKCS#1), a JWK, or a JWK set
 *   (`{"keys":[…]}`, every key with a `kid`).
 */
export function parseKeyMaterial (value: string, allowed: readonly JwtAlgorithm[]): KeyMaterial[] {
  if (allowed.every(isHmacAlgorithm)) {
    if (value.length === 0) throw new ERR_PYWATT_JWT_KEY('the HMAC secret is empty')
    if (looksLikeAsymmetric(value)) {
      throw new ERR_PYWATT_JWT_KEY('the HMAC secret looks like a PEM or JWK public key; HMAC algorithms need a shared secret')
    }
    return [{ kid: hmacKid(value), family: 'hmac', key: value, algorithms: [...allowed] }]
  }
  const text = value.trim()
  if (text.startsWith('{')) {
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      throw new ERR_PYWATT_JWT_KEY('the key is neither PEM nor valid JWK JSON')
    }
    const set = (parsed as { keys?: unknown }).keys
    if (Array.isArray(set)) {
      if (set.length === 0) throw new ERR_PYWATT_JWT_KEY('the JWK set is empty')
      const seen = new Set<string>()
      return set.map((jwk: JsonWebKey & { kid?: unknown }) => {
        if (typeof jwk !== 'object' || jwk === null || typeof jwk.kid !== 'string' || jwk.kid.length === 0) {
          throw new ERR_PYWATT_JWT_KEY('every key of a JWK set needs a kid')
        }
        if (seen.has(jwk.kid)) throw new ERR_PYWATT_JWT_KEY(`duplicate kid ${jwk.kid} in the JWK set`)
        seen.add(jwk.kid)
        return asymmetricEntry(publicFromJwk(jwk), jwk.kid, allowed)
      })
    }
    const jwk = parsed as JsonWebKey & { kid?: unknown }
    return [asymmetricEntry(publicFromJwk(jwk), typeof jwk.kid === 'string' && jwk.kid.length > 0 ? jwk.kid : undefined, allowed)]
  }
  if (text.includes('PRIVATE KEY')) throw new ERR_PYWATT_JWT_KEY('the PEM holds a private key; give the public key only')
  let key: KeyObject
  try {
    key = createPublicKey(text)
  } catch (err) {
    throw new ERR_PYWATT_JWT_KEY(`the key is not a usable PEM public key: ${(err as Error).message}`)
  }
  return [asymmetricEntry(key, undefined, allowed)]
}
