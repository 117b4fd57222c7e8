import { ERR_PYWATT_JWT_KEY } from '../errors.js'
import type { KeyMaterial } from './keys.js'
import { fastJwt } from './lazy.js'

/** The claim checks every verifier of a ring applies (fast-jwt options, validated by the plugin). */
export interface ClaimChecks {
  clockTolerance: number
  requiredClaims: string[]
  allowedIss?: string | string[]
  allowedAud?: string | string[]
  allowedSub?: string | string[]
  maxAge?: number
}

type Verify = (token: string) => Record<string, unknown>
type Sign = (payload: Record<string, unknown>) => string

/** A key in the ring, with the verifier built for it (and dropped with it). */
export interface RingEntry extends KeyMaterial {
  verify: Verify
  /** When the key stops verifying (ms since epoch); `Infinity` for current keys. */
  retireAt: number
}

/**
 * The keys tokens are checked against: the current generation (one value of the
 * key secret, possibly a JWK set of several keys), plus earlier generations
 * that keep verifying until their overlap window ends.
 *
 * Each key has its own fast-jwt verifier, created once, with fast-jwt's token
 * cache off. Tokens verified in full are remembered (bounded, at most
 * {@link VERIFIED_CACHE_TTL}, never past their own exp/nbf/iat/maxAge window)
 * with the key that verified them; a hit needs that key to be live, and the
 * entries of a key are dropped when it retires or is replaced.
 */
/** A token already verified in full, remembered with the key that verified it. */
interface Verified {
  entry: RingEntry
  /** The claims as JSON: every hit gets its own object, so a handler cannot alter what later requests see. */
  json: string
  /** The token is valid in [from, until) (ms since epoch), as far as time is concerned. */
  from: number
  until: number
}

/** Verified tokens remembered at most (the oldest is forgotten first). */
export const VERIFIED_CACHE_SIZE = 1024
/** How long a verified token is remembered at most, in milliseconds. */
export const VERIFIED_CACHE_TTL = 60_000

export class KeyRing {
  #current: RingEntry[] = []
  #previous: RingEntry[] = []
  #byKid = new Map<string, RingEntry>()
  #signer: { kid: string, sign: Sign } | null = null
  readonly #verified = new Map<string, Verified>()
  #timer: NodeJS.Timeout | null = null
  readonly #checks: ClaimChecks
  readonly #now: () => number

  constructor (checks: ClaimChecks, now: () => number = Date.now) {
    this.#checks = checks
    this.#now = now
  }

  /** Build the verifiers of a key generation (throws on a key fast-jwt refuses). */
  prepare (keys: readonly KeyMaterial[]): RingEntry[] {
    return keys.map((k) => ({ ...k, retireAt: Infinity, verify: k.family === 'hmac' ? this.#deferredVerifier(k) : this.#verifier(k) }))
  }

  /**
   * An HMAC key's verifier, built by its first token. With an HS-only
   * allow-list fast-jwt does not inspect the key, so an empty secret is all it
   * can refuse (the claim checks are valid by the options schema): refused
   * here, it fails at registration as before, without loading fast-jwt.
   */
  #deferredVerifier (k: KeyMaterial): Verify {
    if (k.key.length === 0) throw new ERR_PYWATT_JWT_KEY('the HMAC secret is empty')
    let verify: Verify | undefined
    return (token) => {
      verify ??= this.#verifier(k)
      return verify(token)
    }
  }

  #verifier (k: KeyMaterial): Verify {
    try {
      return fastJwt().createVerifier({
        key: k.key,
        algorithms: k.algorithms,
        clockTolerance: this.#checks.clockTolerance,
        requiredClaims: this.#checks.requiredClaims,
        allowedIss: this.#checks.allowedIss,
        allowedAud: this.#checks.allowedAud,
        allowedSub: this.#checks.allowedSub,
        maxAge: this.#checks.maxAge,
        cache: false
      }) as Verify
    } catch (err) {
      throw new ERR_PYWATT_JWT_KEY((err as Error).message)
    }
  }

  /**
   * Install a new generation. The current one keeps verifying for `overlapMs`
   * (0: at once retired). A key id present in both stays current.
   */
  install (entries: RingEntry[], overlapMs: number): void {
    const now = this.#now()
    const incoming = new Set(entries.map((e) => e.kid))
    const retiring = this.#current.filter((e) => !incoming.has(e.kid))
    for (const e of retiring) e.retireAt = now + overlapMs
    this.#previous = [...retiring, ...this.#previous.filter((e) => !incoming.has(e.kid))]
    this.#current = entries
    this.#signer = null
    this.#sweep()
  }

  /** True once a key is installed. */
  get ready (): boolean {
    return this.#current.length > 0
  }

  /** The kids of the current generation, then of the retiring ones still in their window. */
  kids (): { current: string[], previous: string[] } {
    this.#sweep()
    return { current: this.#current.map((e) => e.kid), previous: this.#previous.map((e) => e.kid) }
  }

  /** The live key for `kid`, or undefined (unknown or retired). */
  byKid (kid: string): RingEntry | undefined {
    const entry = this.#byKid.get(kid)
    if (entry === undefined) return undefined
    if (entry.retireAt <= this.#now()) {
      this.#sweep()
      return undefined
    }
    return entry
  }

  /** Keys to try for a token without a kid, current first. */
  candidates (): RingEntry[] {
    if (this.#previous.length === 0) return this.#current
    const now = this.#now()
    if (this.#previous.some((e) => e.retireAt <= now)) this.#sweep()
    return this.#previous.length === 0 ? this.#current : [...this.#current, ...this.#previous]
  }

  /**
   * The signing function of the first current key. `make` builds it; it is kept
   * until the next rotation.
   */
  signer (make: (entry: RingEntry) => Sign): { kid: string, sign: Sign } | null {
    if (this.#signer !== null) return this.#signer
    const entry = this.#current[0]
    if (entry === undefined) return null
    this.#signer = { kid: entry.kid, sign: make(entry) }
    return this.#signer
  }

  /**
   * The claims of `token` if it was verified in full before, by a key that is
   * still live, and `now` is inside its validity window; else undefined.
   */
  recall (token: string, now: number): Record<string, unknown> | undefined {
    const hit = this.#verified.get(token)
    if (hit === undefined) return undefined
    if (hit.entry.retireAt > now && now >= hit.from && now < hit.until) return JSON.parse(hit.json) as Record<string, unknown>
    this.#verified.delete(token)
    return undefined
  }

  /** Remember a token `entry` verified in full, valid in [from, until). */
  remember (token: string, entry: RingEntry, claims: Record<string, unknown>, from: number, until: number): void {
    if (this.#verified.size >= VERIFIED_CACHE_SIZE) this.#verified.delete(this.#verified.keys().next().value as string)
    this.#verified.set(token, { entry, json: JSON.stringify(claims), from, until })
  }

  /** Stop the retirement timer (plugin close). */
  close (): void {
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    this.#previous = []
    this.#current = []
    this.#byKid.clear()
    this.#verified.clear()
    this.#signer = null
  }

  /** Drop retired keys, rebuild the kid index, and arm a timer for the next retirement. */
  #sweep (): void {
    const now = this.#now()
    this.#previous = this.#previous.filter((e) => e.retireAt > now)
    this.#byKid = new Map()
    for (const e of this.#previous) this.#byKid.set(e.kid, e)
    for (const e of this.#current) this.#byKid.set(e.kid, e)
    // Nothing a key verified outlives the key.
    const live = new Set([...this.#current, ...this.#previous])
    for (const [token, hit] of this.#verified) if (!live.has(hit.entry)) this.#verified.delete(token)
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    if (this.#previous.length > 0) {
      const next = Math.min(...this.#previous.map((e) => e.retireAt))
      this.#timer = setTimeout(() => { this.#timer = null; this.#sweep() }, Math.max(0, next - now) + 1)
      this.#timer.unref()
    }
  }
}
