import { createRequire } from 'node:module'
import type { FastifyJWTOptions, JWT } from '@fastify/jwt'
import type * as FastJwt from 'fast-jwt'

const requireFromHere = createRequire(import.meta.url)

/*
 * fast-jwt (with asn1.js and bn.js) and @fastify/jwt on top of it took about
 * 18 ms of every cold start, spent before a module has any token to check.
 * Both are loaded on first use instead: the first token verified or signed.
 */

/** fast-jwt, loaded on first use. */
export function fastJwt (): typeof FastJwt {
  return requireFromHere('fast-jwt') as typeof FastJwt
}

type Forwarded<This> = (this: This, ...args: unknown[]) => unknown

/** What @fastify/jwt decorates. */
export interface FastifyJwtDecorators {
  /** `fastify.jwt` */
  jwt: JWT
  /** `request.jwtVerify` */
  jwtVerify: Forwarded<unknown>
  /** `request.jwtDecode` */
  jwtDecode: Forwarded<unknown>
  /** `reply.jwtSign` */
  jwtSign: Forwarded<unknown>
}

/**
 * Load @fastify/jwt and run its plugin function with `options`, returning the
 * decorators it declares. That function does nothing with the instance but
 * declare decorators, so it is handed a stand-in that records them; the caller
 * has declared forwarders to them at registration.
 */
export function setUpFastifyJwt (options: FastifyJWTOptions): FastifyJwtDecorators {
  type Plugin = (instance: object, opts: FastifyJWTOptions, done: (err?: Error) => void) => void
  const plugin = requireFromHere('@fastify/jwt') as Plugin
  const declared: Record<string, unknown> = {}
  const record = (name: string, value: unknown): void => { declared[name] = value }
  plugin({ decorate: record, decorateRequest: record, decorateReply: record }, options, (err) => { if (err !== undefined) throw err })
  return declared as unknown as FastifyJwtDecorators
}
