export { Cache, createCache, createBackend, redisSettings } from './cache.js'
export { parseCacheUrl, CACHE_DEFAULTS } from './config.js'
export type { Cacheable, CacheableEntries, CacheKind, CacheOptions, CacheStats, CacheValue, LockOptions, SetOptions } from './types.js'
