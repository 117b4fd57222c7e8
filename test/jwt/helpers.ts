import { createHmac, generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto'
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import pywatt from '../../plugins/index.js'
import jwt, { type PyWattJwtOptions } from '../../plugins/jwt.js'
import { FakeOrchestrator } from '../helpers/fake-orchestrator.js'
import { captureLogger } from '../helpers/log-capture.js'

export const SECRET = 'the-first-jwt-secret-0123456789abcdef'

/** Seconds since the epoch, as JWT NumericDate. */
export const nowSec = (): number => Math.floor(Date.now() / 1000)

export function b64url (value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')
}

const HMAC: Record<string, string> = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' }

/** A token built by hand: `header.payload.signature`, HMAC-signed with `key` when given. */
export function hsToken (header: Record<string, unknown>, payload: unknown, key: string | Buffer | null): string {
  const input = `${b64url(header)}.${b64url(payload)}`
  if (key === null) return `${input}.`
  const alg = HMAC[String(header.alg)] ?? 'sha256'
  return `${input}.${createHmac(alg, key).update(input).digest('base64url')}`
}

/** An RS256 / ES256 token signed with `privateKey`. */
export function pkToken (header: Record<string, unknown>, payload: unknown, privateKey: KeyObject): string {
  const input = `${b64url(header)}.${b64url(payload)}`
  const sig = header.alg === 'ES256'
    ? cryptoSign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' })
    : cryptoSign('sha256', Buffer.from(input), privateKey)
  return `${input}.${sig.toString('base64url')}`
}

export function rsaPair (): { privateKey: KeyObject, publicPem: string, publicJwk: Record<string, unknown> } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  return { privateKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }) as string, publicJwk: publicKey.export({ format: 'jwk' }) as Record<string, unknown> }
}

/** A valid claim set: expires in an hour. */
export const claims = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ sub: 'user-1', iat: nowSec(), exp: nowSec() + 3600, ...extra })

export interface Booted {
  app: FastifyInstance
  orch: FakeOrchestrator
  log: ReturnType<typeof captureLogger>
  calls: { protected: number, manual: number, open: number, viaJwtVerify: number }
  /** The values the fake orchestrator answers `get_secret` with (mutable: rotation). */
  values: Record<string, string>
}

/**
 * An app under the fake orchestrator with the jwt plugin and three routes:
 * `/protected` (route config), `/manual` (authenticate as preHandler), `/open`.
 */
export async function boot (t: Test, jwtOpts: PyWattJwtOptions = {}, values: Record<string, string> = { JWT_SECRET: SECRET }): Promise<Booted> {
  const log = captureLogger()
  const { app, orch } = await withJwt(t, jwtOpts, values, log.logger)
  const calls = { protected: 0, manual: 0, open: 0, viaJwtVerify: 0 }
  app.get('/protected', { config: { pywatt: { auth: 'jwt' } } }, async (req) => {
    calls.protected++
    return { user: req.user }
  })
  app.get('/manual', { preHandler: app.pywatt.jwt!.authenticate }, async (req) => {
    calls.manual++
    return { sub: req.user.sub }
  })
  // @fastify/jwt's own decorators, wired to the same key ring.
  app.get('/via-jwt-verify', { onRequest: async (req) => { await req.jwtVerify() } }, async (req) => {
    calls.viaJwtVerify++
    return { sub: req.user.sub }
  })
  app.post<{ Body: { sub: string } }>('/mint', async (req, reply) => ({ token: await reply.jwtSign({ sub: req.body.sub }) }))
  app.get('/open', async () => {
    calls.open++
    return { open: true }
  })
  await app.ready()
  return { app, orch, log, calls, values }
}

/**
 * An app under the fake orchestrator with pywatt and the jwt plugin registered,
 * not ready yet: the caller adds its routes.
 */
export async function withJwt (t: Test, jwtOpts: PyWattJwtOptions = {}, values: Record<string, string> = { JWT_SECRET: SECRET }, logger?: FastifyBaseLogger): Promise<{ app: FastifyInstance, orch: FakeOrchestrator }> {
  const orch = new FakeOrchestrator()
  orch.serveSecrets(values)
  const app = Fastify(logger === undefined ? {} : { loggerInstance: logger })
  t.after(() => app.close())
  orch.init()
  await app.register(pywatt, { io: orch.io })
  await app.register(jwt, jwtOpts)
  return { app, orch }
}

export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` })
