// The declaration file keeps this reference so that a consumer's program
// loads @fastify/jwt's typings (request.user, request.jwtVerify, reply.jwtSign,
// fastify.jwt) from this package's own dependency. The type-only imports below
// are elided from it, and augmenting '@fastify/jwt' does not load its typings.
/// <reference types="@fastify/jwt" preserve="true" />
import type { FastifyJWTOptions } from '@fastify/jwt'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest, onRequestHookHandler, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import { ERR_PYWATT_INVALID_OPTIONS, ERR_PYWATT_JWT_SIGN, ERR_PYWATT_JWT_UNAUTHORIZED, ERR_PYWATT_JWT_UNPROTECTED } from '../lib/errors.js'
import { KeyRing } from '../lib/auth/key-ring.js'
import { parseKeyMaterial } from '../lib/auth/keys.js'
import { fastJwt, setUpFastifyJwt, type FastifyJwtDecorators } from '../lib/auth/lazy.js'
import { resolveJwtOptions, type JwtOptions } from '../lib/auth/options.js'
import { bearerToken, checkBeyondFastJwt, fastifyJwtReason, JWT_REASONS, JwtRejection, reasonOf, verifyToken, type VerifyPolicy } from '../lib/auth/verify.js'
import { serviceClient, type ServiceClient } from '../lib/services/service-client.js'
import { StartupBudget } from '../lib/runtime/startup-budget.js'
import { loggedRefusal } from '../lib/http/error-handler.js'
import { internalsOf } from '../lib/internals.js'

/**
 * The claims of a verified token, `request.user`. Augment it with the claims
 * your tokens carry:
 *
 * ```ts
 * declare module 'fastify-pywatt/jwt' {
 *   interface PyWattJwtClaims { role: 'admin' | 'user' }
 * }
 * ```
 */
export interface PyWattJwtClaims {
  exp?: number
  iat?: number
  nbf?: number
  iss?: string
  sub?: string
  aud?: string | string[]
  jti?: string
  [claim: string]: unknown
}

/** Options of `fastify-pywatt/jwt`. */
export type PyWattJwtOptions = JwtOptions

/** `fastify.pywatt.jwt`. */
export interface PyWattJwt {
  /**
   * The hook that protects a route (as `onRequest` or `preHandler`): a valid
   * token sets `request.user`; anything else is a 401 and the handler never runs.
   * Routes with `config: { pywatt: { auth: 'jwt' } }` get it automatically.
   */
  authenticate: onRequestHookHandler
  /** Verify a token as `authenticate` does; throws `FST_PYWATT_JWT_UNAUTHORIZED` (with `reason`). */
  verify: (token: string) => PyWattJwtClaims
  /**
   * Mint a token with the current key (HMAC only), synchronously. `iat` and
   * `exp` (now + `expiresIn`) are added unless present; the header carries the
   * key's `kid`.
   */
  sign: (payload: PyWattJwtClaims, opts?: { expiresIn?: number }) => string
  /** The key ids in use: the current ones and those still in their overlap window. */
  keys: () => { current: string[], previous: string[] }
}

declare module './types.js' {
  interface PyWattNamespace {
    /** JWT verification and signing, when `fastify-pywatt/jwt` is registered. */
    jwt?: PyWattJwt
  }
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: PyWattJwtClaims
    user: PyWattJwtClaims
  }
}

/**
 * `fastify-pywatt/jwt`: JWT authentication with the key from an orchestrator
 * secret, built on `@fastify/jwt` (which provides `request.jwtVerify`,
 * `reply.jwtSign` and `request.user`).
 */
const jwtPlugin: FastifyPluginAsync<PyWattJwtOptions> = async (app, options) => {
  const opts = resolveJwtOptions(options)
  const secrets = app.pywatt.secrets
  const ring = new KeyRing({
    clockTolerance: opts.clockTolerance,
    requiredClaims: opts.requiredClaims,
    allowedIss: opts.issuer,
    allowedAud: opts.audience,
    allowedSub: opts.subject,
    maxAge: opts.maxAge
  })
  const load = (value: string, overlap: number): void => {
    ring.install(ring.prepare(parseKeyMaterial(value, opts.algorithms)), overlap)
  }
  const internals = internalsOf(app.pywatt)
  const routeTable = internals.routeTable
  const routesBefore = routeTable.routes.length

  const remote = opts.validation === 'orchestrator'
  const channel = app.pywatt.channel
  if (remote && channel === null) {
    throw new ERR_PYWATT_INVALID_OPTIONS("jwt validation: 'orchestrator' needs an orchestrator (this module runs standalone)")
  }
  if (remote) {
    // The orchestrator holds the key: the module fetches none.
  } else if (opts.key !== undefined) {
    load(opts.key, 0)
  } else {
    const startup = internals.startup
    let key: string
    try {
      // Like the root plugin's startup secrets: refused cleanly before avvio's timeout.
      key = await secrets.fetch(opts.secret, { timeout: new StartupBudget(app.initialConfig.pluginTimeout ?? 0).clamp(startup.secretTimeout) })
    } catch (err) {
      throw startup.refuse(err as Error, 'refusing to start: the jwt key secret is unavailable')
    }
    load(key, 0)
    const unsubscribe = secrets.onRotate([opts.secret], ({ value, rotationId }) => {
      try {
        load(value, opts.rotationOverlap)
        app.log.info({ secret: opts.secret, rotationId, overlapMs: opts.rotationOverlap, keys: ring.kids() }, 'jwt key rotated; tokens of the previous key verify until the overlap ends')
      } catch (err) {
        app.log.error({ err, secret: opts.secret, rotationId }, 'the rotated jwt key is unusable; the previous key stays in use')
      }
    })
    app.addHook('onClose', async () => { unsubscribe() })
  }
  app.addHook('onClose', async () => { ring.close() })

  const policy: VerifyPolicy = { maxTokenLength: opts.maxTokenLength, clockTolerance: opts.clockTolerance, algorithms: opts.algorithms, maxAge: opts.maxAge }

  const unauthorized = (reason: string): Error => {
    const err = new ERR_PYWATT_JWT_UNAUTHORIZED()
    Object.defineProperty(err, 'reason', { value: reason, enumerable: true })
    return err
  }

  const observation = internals.observation
  const reject = (request: FastifyRequest, cause: unknown): Error => {
    const rejection = reasonOf(cause)
    observation.current?.jwtVerification('refused', rejection.reason)
    request.log.warn({ reason: rejection.reason, detail: rejection.message }, 'jwt rejected')
    return loggedRefusal(unauthorized(rejection.reason))
  }

  const verify = (token: string): PyWattJwtClaims => {
    try {
      const claims = verifyToken(ring, token, policy) as PyWattJwtClaims
      observation.current?.jwtVerification('accepted', 'none')
      return claims
    } catch (err) {
      const reason = reasonOf(err).reason
      observation.current?.jwtVerification('refused', reason)
      throw unauthorized(reason)
    }
  }

  /** The bearer token verified with the key ring: `request.user` set and the verification counted; throws the raw rejection. */
  const verifyLocally = (request: FastifyRequest): Record<string, unknown> => {
    const claims = verifyToken(ring, bearerToken(request.headers.authorization, opts.maxTokenLength), policy)
    request.user = claims as PyWattJwtClaims
    observation.current?.jwtVerification('accepted', 'none')
    return claims
  }

  // Synchronous, with a callback: the hook of every protected route pays no promise.
  function authenticate (this: unknown, request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void): void {
    try {
      verifyLocally(request)
    } catch (err) {
      reply.header('www-authenticate', 'Bearer')
      done(reject(request, err))
      return
    }
    done()
  }

  const services = remote && channel !== null ? serviceClient(channel, app.log) : null
  let connection: Promise<string> | null = null
  /** Claims of `token` according to the orchestrator's `Jwt` service (one connection, opened on first use). */
  const validateRemotely = async (token: string): Promise<Record<string, unknown>> => {
    const client = services as ServiceClient
    connection ??= client.open('Jwt', null, opts.remoteTimeout).catch((err: Error) => {
      connection = null
      throw err
    })
    const claims = await client.operate(await connection, 'Jwt', 'validate', { token }, opts.remoteTimeout)
    if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) {
      throw new JwtRejection(JWT_REASONS.REMOTE, 'the orchestrator answered without a claims object')
    }
    return claims as Record<string, unknown>
  }

  /**
   * The verification of `auth: 'jwt'`, by the key ring or the orchestrator:
   * the claims, or the generic 401 with the reason logged and counted. It is
   * also `request.jwtVerify()` without options, so a route that calls it
   * refuses exactly what a protected route refuses.
   */
  const verifyAsRoutes = async (request: FastifyRequest): Promise<Record<string, unknown>> => {
    try {
      if (!remote) return verifyLocally(request)
      const token = bearerToken(request.headers.authorization, opts.maxTokenLength)
      const claims = await validateRemotely(token).catch((err: Error) => {
        throw err instanceof JwtRejection ? err : new JwtRejection(JWT_REASONS.REMOTE, err.message)
      })
      request.user = claims as PyWattJwtClaims
      observation.current?.jwtVerification('accepted', 'none')
      return claims
    } catch (err) {
      throw reject(request, err)
    }
  }

  async function authenticateRemote (this: unknown, request: FastifyRequest, reply: FastifyReply): Promise<void> {
    try {
      await verifyAsRoutes(request)
    } catch (err) {
      reply.header('www-authenticate', 'Bearer')
      throw err
    }
  }

  const sign = (payload: PyWattJwtClaims, signOpts: { expiresIn?: number } = {}): string => {
    if (remote) throw new ERR_PYWATT_JWT_SIGN('tokens are validated by the orchestrator: this module holds no key')
    if (!opts.hmac) throw new ERR_PYWATT_JWT_SIGN('the key is a public key: this module can verify tokens, not sign them')
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw new ERR_PYWATT_JWT_SIGN('the payload must be an object')
    const signer = ring.signer((entry) => fastJwt().createSigner({ key: entry.key, algorithm: entry.algorithms[0], kid: entry.kid })) as NonNullable<ReturnType<KeyRing['signer']>>
    const now = Math.floor(Date.now() / 1000)
    const expiresIn = signOpts.expiresIn ?? opts.expiresIn
    return signer.sign({ ...payload, exp: payload.exp ?? now + Math.ceil(expiresIn / 1000) })
  }

  // @fastify/jwt provides request.jwtVerify, request.jwtDecode, reply.jwtSign,
  // fastify.jwt and request.user. Its key functions read the ring: signing uses
  // the current key; verifying picks the key by kid (current key without one).
  // Keys are handed over as Buffers so that @fastify/jwt builds a verifier per
  // call instead of caching one per key forever (a retired key must not keep a
  // verifier alive).
  const signingKey = async (): Promise<string> => {
    if (!opts.hmac) throw new ERR_PYWATT_JWT_SIGN('the key is a public key: this module can verify tokens, not sign them')
    return ring.candidates()[0].key
  }
  const verifyingKey = async (_request: FastifyRequest, decoded: { header?: { kid?: unknown } }): Promise<Buffer> => {
    const kid = decoded.header?.kid
    const entry = kid === undefined ? ring.candidates()[0] : typeof kid === 'string' ? ring.byKid(kid) : undefined
    if (entry === undefined) throw unauthorized(JWT_REASONS.UNKNOWN_KID)
    return Buffer.from(entry.key)
  }
  const fastifyJwtOptions = {
    secret: { private: signingKey, public: verifyingKey } as never,
    decode: { complete: true },
    sign: opts.hmac ? { algorithm: opts.algorithms[0], expiresIn: Math.ceil(opts.expiresIn / 1000) } : {},
    verify: {
      algorithms: opts.algorithms,
      clockTolerance: opts.clockTolerance,
      requiredClaims: opts.requiredClaims,
      allowedIss: opts.issuer,
      allowedAud: opts.audience,
      allowedSub: opts.subject,
      maxAge: opts.maxAge,
      cache: false
    } as never
  } satisfies FastifyJWTOptions
  // It is set up on first use (lib/auth/lazy.ts) behind forwarders declared
  // now. Its options are fixed here and made of values the options schema has
  // checked, so deferring it cannot move a refusal from registration to a request.
  let fastifyJwt: FastifyJwtDecorators | undefined
  const decorators = (): FastifyJwtDecorators => {
    fastifyJwt ??= setUpFastifyJwt(fastifyJwtOptions)
    return fastifyJwt
  }
  app.decorate('jwt', { getter: () => decorators().jwt })
  app.decorateRequest('user', null as never)
  type Done = (err: Error | null, user?: unknown) => void
  // Counted like `authenticate`. Every form is handed to @fastify/jwt as
  // `(options, callback)`: its other forms call request.jwtVerify again.
  function jwtVerify (this: FastifyRequest, ...args: unknown[]): Promise<unknown> | undefined {
    const [first, second] = args
    const done = typeof first === 'function' ? first as Done : typeof second === 'function' ? second as Done : null
    const options = typeof first === 'function' ? undefined : first
    if (options === undefined) {
      const verified = verifyAsRoutes(this)
      if (done === null) return verified
      verified.then((claims) => done(null, claims), (err: Error) => done(err))
      return undefined
    }
    const complete = (options as { complete?: unknown }).complete === true
    // With options (@fastify/jwt's per-call overrides) the verification is @fastify/jwt's: the checks ours adds run on what it accepted.
    const counted = (settle: Done): Done => (err, user) => {
      if (err === null) {
        try {
          // `{ complete: true }` answers header, payload and signature: the claims are the payload.
          checkBeyondFastJwt(complete ? (user as { payload?: unknown }).payload : user, opts.clockTolerance, Date.now())
        } catch (cause) {
          const reason = reasonOf(cause).reason
          this.user = null as never
          this.log.warn({ reason, detail: (cause as Error).message }, 'jwt rejected')
          observation.current?.jwtVerification('refused', reason)
          settle(unauthorized(reason))
          return
        }
      }
      if (err === null) observation.current?.jwtVerification('accepted', 'none')
      else observation.current?.jwtVerification('refused', fastifyJwtReason(err))
      settle(err, user)
    }
    if (done !== null) {
      decorators().jwtVerify.call(this, options, counted(done))
      return undefined
    }
    return new Promise((resolve, reject) => {
      decorators().jwtVerify.call(this, options, counted((err, user) => { if (err === null) resolve(user); else reject(err) }))
    })
  }
  app.decorateRequest('jwtVerify', jwtVerify)
  app.decorateRequest('jwtDecode', function (this: FastifyRequest, ...args: unknown[]) { return decorators().jwtDecode.apply(this, args) })
  app.decorateReply('jwtSign', function (this: FastifyReply, ...args: unknown[]) { return decorators().jwtSign.apply(this, args) })

  const api: PyWattJwt = {
    authenticate: (remote ? authenticateRemote : authenticate) as onRequestHookHandler,
    verify,
    sign,
    keys: () => ring.kids()
  }
  Object.assign(app.pywatt, { jwt: api })
  // Route discovery announces a route that has this hook of its own as protected.
  const authHooks = internals.authHooks
  authHooks.set(api.authenticate, 'jwt')

  app.addHook('onRoute', (route: RouteOptions) => {
    if (route.config?.pywatt?.auth !== 'jwt') return
    const existing = route.onRequest
    route.onRequest = existing === undefined ? [api.authenticate] : [api.authenticate, ...(Array.isArray(existing) ? existing : [existing])]
  })

  app.addHook('onReady', async () => {
    // A route marked auth: 'jwt' declared before this plugin has no hook: fail closed.
    const unprotected = routeTable.routes.slice(0, routesBefore).filter((r) => r.auth === 'jwt')
    if (unprotected.length > 0) {
      throw new ERR_PYWATT_JWT_UNPROTECTED(unprotected.map((r) => `${r.methods.join(',')} ${r.url}`).join('; '))
    }
  })
}

export const jwt = fp(jwtPlugin, {
  name: 'fastify-pywatt/jwt',
  fastify: '5.x',
  dependencies: ['fastify-pywatt'],
  decorators: { fastify: ['pywatt'] }
})
export default jwt
export { JWT_REASONS, type JwtReason } from '../lib/auth/verify.js'
export type { JwtAlgorithm } from '../lib/auth/keys.js'
