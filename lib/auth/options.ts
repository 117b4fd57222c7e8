import { Type, type Static } from '#typebox'
import { checkOptions } from '../check-options.js'
import { ERR_PYWATT_INVALID_OPTIONS } from '../errors.js'
import { ASYMMETRIC_ALGORITHMS, HMAC_ALGORITHMS, isHmacAlgorithm, type JwtAlgorithm } from './keys.js'

const Algorithm = Type.Union([...HMAC_ALGORITHMS, ...ASYMMETRIC_ALGORITHMS].map((a) => Type.Literal(a)))
const StringOrList = Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })])
const Millis = Type.Integer({ minimum: 0 })

/** The options of `fastify-pywatt/jwt`, checked at registration. */
export const JwtOptionsSchema = Type.Object({
  /** Name of the orchestrator secret that holds the key (default `JWT_SECRET`). */
  secret: Type.Optional(Type.String({ minLength: 1 })),
  /** A fixed public key (PEM, JWK or JWK set) instead of a secret; asymmetric algorithms only. */
  key: Type.Optional(Type.String({ minLength: 1 })),
  /** The algorithm allow-list (default `['HS256']`); never taken from the token. */
  algorithms: Type.Optional(Type.Array(Algorithm, { minItems: 1 })),
  /** Allowed clock skew on `exp`, `nbf` and `iat`, in milliseconds (default 500). */
  clockTolerance: Type.Optional(Millis),
  /** Require `exp` (default true). */
  requireExp: Type.Optional(Type.Boolean()),
  /** More claims that must be present. */
  requiredClaims: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
  /** Accepted `iss` values. */
  issuer: Type.Optional(StringOrList),
  /** Accepted `aud` values (a token's `aud` may be a list: one match is enough). */
  audience: Type.Optional(StringOrList),
  /** Accepted `sub` values. */
  subject: Type.Optional(StringOrList),
  /** Refuse tokens whose `iat` is older than this, in milliseconds. */
  maxAge: Type.Optional(Type.Integer({ minimum: 1 })),
  /** How long tokens of the previous key keep verifying after a rotation, in milliseconds (default 300 000). */
  rotationOverlap: Type.Optional(Millis),
  /** Longest token accepted, in characters (default 8192). */
  maxTokenLength: Type.Optional(Type.Integer({ minimum: 16 })),
  /** Lifetime of tokens minted by `sign` / `reply.jwtSign`, in milliseconds (default 900 000). */
  expiresIn: Type.Optional(Type.Integer({ minimum: 1000 })),
  /**
   * `local` (default) verifies tokens in the module; `orchestrator` asks the
   * orchestrator's `Jwt` service (`service_operation validate`), under the
   * assumption documented in the README.
   */
  validation: Type.Optional(Type.Union([Type.Literal('local'), Type.Literal('orchestrator')])),
  /** How long orchestrator validation may take, in milliseconds (default 5000). */
  remoteTimeout: Type.Optional(Type.Integer({ minimum: 1 }))
}, { additionalProperties: false })

export type JwtOptions = Static<typeof JwtOptionsSchema>

/** The options with their defaults, checked. */
export interface ResolvedJwtOptions {
  secret: string
  key: string | undefined
  algorithms: JwtAlgorithm[]
  hmac: boolean
  clockTolerance: number
  requiredClaims: string[]
  issuer: string | string[] | undefined
  audience: string | string[] | undefined
  subject: string | string[] | undefined
  maxAge: number | undefined
  rotationOverlap: number
  maxTokenLength: number
  expiresIn: number
  validation: 'local' | 'orchestrator'
  remoteTimeout: number
}

/** Check the options (`FST_PYWATT_INVALID_OPTIONS` naming the first problem) and fill defaults. */
export function resolveJwtOptions (opts: unknown): ResolvedJwtOptions {
  checkOptions(JwtOptionsSchema, opts, 'jwt')
  const algorithms = [...new Set(opts.algorithms ?? ['HS256'])] as JwtAlgorithm[]
  const hmac = algorithms.every(isHmacAlgorithm)
  if (!hmac && algorithms.some(isHmacAlgorithm)) {
    // One key secret, one family: a public key must never be usable as an HMAC secret.
    throw new ERR_PYWATT_INVALID_OPTIONS('jwt algorithms: HMAC and public-key algorithms cannot be mixed')
  }
  if (opts.key !== undefined && hmac) {
    throw new ERR_PYWATT_INVALID_OPTIONS('jwt key: a fixed key is for public-key algorithms; an HMAC secret comes from the orchestrator (option secret)')
  }
  const required = new Set(opts.requiredClaims ?? [])
  if (opts.requireExp !== false) required.add('exp')
  return {
    secret: opts.secret ?? 'JWT_SECRET',
    key: opts.key,
    algorithms,
    hmac,
    clockTolerance: opts.clockTolerance ?? 500,
    requiredClaims: [...required],
    issuer: opts.issuer,
    audience: opts.audience,
    subject: opts.subject,
    maxAge: opts.maxAge,
    rotationOverlap: opts.rotationOverlap ?? 300_000,
    maxTokenLength: opts.maxTokenLength ?? 8192,
    expiresIn: opts.expiresIn ?? 900_000,
    validation: opts.validation ?? 'local',
    remoteTimeout: opts.remoteTimeout ?? 5_000
  }
}
