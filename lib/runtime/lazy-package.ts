import { createRequire } from 'node:module'

const requireFromHere = createRequire(import.meta.url)

/**
 * Load a driver package the first time a backend is built. A module uses one
 * database and one cache backend, or none; loading pg, mysql2, ioredis, memjs
 * and better-sqlite3 up front cost about 120 ms of every cold start.
 */
export function loadPackage<T> (name: string): T {
  return requireFromHere(name) as T
}

/**
 * The file a driver package ships at `subpath`, if it is there. Drivers with a
 * native addon search a dozen candidate paths for it on first use; handing them
 * the path skips that search.
 */
export function packageFile (name: string, subpath: string): string | undefined {
  try {
    // Resolution fails for a file that is not there.
    return requireFromHere.resolve(`${name}/${subpath}`)
  } catch {
    return undefined
  }
}
