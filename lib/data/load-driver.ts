import { createRequire } from 'node:module'

const requireFromHere = createRequire(import.meta.url)

/**
 * Load a driver package the first time a backend is built. A module uses one
 * database and one cache backend, or none; loading pg, mysql2, ioredis, memjs
 * and better-sqlite3 up front cost about 120 ms of every cold start.
 */
export function loadDriver<T> (name: string): T {
  return requireFromHere(name) as T
}
