import { comparisonSection } from './data.js'

/**
 * `fastify.pg.query` and `fastify.redis.get` as the root plugin provides them
 * (`@fastify/postgres` over the module's rotation-aware pool,
 * lib/data/fastify-postgres.ts; `@fastify/redis` with the cache's own ioredis
 * client, lib/data/fastify-redis.ts) against the same plugins registered on
 * their own in a plain Fastify app, given the pool size and the ioredis
 * options the suite uses. Each side runs in processes of its own
 * (fixtures/data-side.ts), sampled as the data section's server comparisons
 * (five pairs of processes, interleaved rounds, 32 calls in flight), with the
 * plugin alone against itself as the control under `PYWATT_BENCH_CONTROL=1`.
 */
export const pluginsBench = comparisonSection('plugins', [
  { name: 'fastify.pg query' },
  { name: 'fastify.redis get' }
], { pywatt: 'pywatt', raw: 'plugin' })
