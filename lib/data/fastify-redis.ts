import type { FastifyBaseLogger, FastifyInstance, FastifyPluginCallback } from 'fastify'
import type { Redis } from 'ioredis'
import { loadPackage } from '../runtime/lazy-package.js'
import { skipLaterRegistration } from './fastify-postgres.js'

/**
 * Register `@fastify/redis` with the cache's own client (the root plugin's
 * `cache.fastifyRedis`): `fastify.redis` is that client, reconnected in place
 * when the cache URL rotates; we close it (`closeClient: false`).
 * Like `@fastify/redis` itself, this waits until the client is ready.
 */
export async function registerFastifyRedis (app: FastifyInstance, client: Redis, log: FastifyBaseLogger): Promise<void> {
  const plugin = loadPackage<FastifyPluginCallback<Record<string, unknown>>>('@fastify/redis')
  await app.register(plugin, { client, closeClient: false })
  skipLaterRegistration(app, '@fastify/redis', (opts) => opts.namespace === undefined, log,
    'Set `cache: { fastifyRedis: false }` to register your own, or give yours a `namespace`.')
}
