export { Cache, createCache, createBackend, parseCacheUrl, CACHE_DEFAULTS } from './cache.js'
export type { Cacheable, CacheableEntries, CacheKind, CacheOptions, CacheStats, CacheValue, SetOptions } from './types.js'
