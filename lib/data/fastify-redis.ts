import type { FastifyBaseLogger, FastifyInstance, FastifyPluginCallback } from 'fastify'
import type { Cluster, Redis } from 'ioredis'
import { ERR_PYWATT_CACHE_CONFIG } from '../errors.js'
import { loadPackage } from '../runtime/lazy-package.js'

/** Resolves true once `client` is ready, false after `timeout` ms. */
function readyWithin (client: Redis | Cluster, timeout: number): Promise<boolean> {
  if (client.status === 'ready') return Promise.resolve(true)
  return new Promise((resolve) => {
    const onReady = (): void => { clearTimeout(timer); resolve(true) }
    const timer = setTimeout(() => { client.off('ready', onReady); resolve(false) }, timeout)
    client.once('ready', onReady)
  })
}

/**
 * Register `@fastify/redis` with the cache's own client (the root plugin's
 * `cache.fastifyRedis`): `fastify.redis` is that client, reconnected in place
 * when the cache URL rotates; we close it (`closeClient: false`).
 * `@fastify/redis` holds the boot until the client is ready, without a bound:
 * a Redis down at start would fail the start on Fastify's plugin timeout. The
 * module starts without Redis as it does without the plugin: when the client
 * is not ready within `wait` ms, `fastify.redis` is decorated with the same
 * client directly (no `@fastify/redis` in `hasPlugin`), and it connects in
 * the background.
 */
export async function registerFastifyRedis (app: FastifyInstance, client: Redis | Cluster, wait: number, log: FastifyBaseLogger): Promise<void> {
  if (await readyWithin(client, wait)) {
    const plugin = loadPackage<FastifyPluginCallback<Record<string, unknown>>>('@fastify/redis', {
      neededBy: 'fastify.redis', error: ERR_PYWATT_CACHE_CONFIG, otherwise: 'or cache: { fastifyRedis: false } for no fastify.redis'
    })
    await app.register(plugin, { client, closeClient: false })
  } else {
    log.warn({ wait }, 'Redis is not reachable at start: fastify.redis is the cache client, decorated without @fastify/redis; it connects in the background')
    app.decorate('redis', client as never)
  }
}
