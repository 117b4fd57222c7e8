import { createRequire } from 'node:module'

const requireFromHere = createRequire(import.meta.url)

/** Who needs a package, and the error to throw when it is not installed. */
export interface MissingPackage {
  /** What needs it, for the message: `the postgres backend`, `fastify.pg`. */
  readonly neededBy: string
  /** The package's error class (`ERR_PYWATT_DB_CONFIG`, …): one string argument. */
  readonly error: new (message: string, options?: { cause?: unknown }) => Error
  /** Appended to the install line: another way out, such as an option that turns the feature off. */
  readonly otherwise?: string
}

/**
 * Whether `err` says that `name` itself cannot be found, not a module that
 * `name` (or a module it loads) requires: Node's message names the request
 * that failed, on its first line.
 */
export function isMissing (err: unknown, name: string): boolean {
  if (!(err instanceof Error) || (err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') return false
  return err.message.split('\n', 1)[0] === `Cannot find module '${name}'`
}

/**
 * Load a driver package the first time a backend is built. A module uses one
 * database and one cache backend, or none; loading pg, mysql2, ioredis, memjs
 * and better-sqlite3 up front cost about 120 ms of every cold start.
 *
 * The server drivers are optional peer dependencies: an app installs the one
 * it uses. With `missing`, a package that is not installed is reported as
 * `missing.error` naming the package and the line that installs it; a module
 * missing inside the package (a broken install) is rethrown as it is.
 */
export function loadPackage<T> (name: string, missing?: MissingPackage): T {
  try {
    return requireFromHere(name) as T
  } catch (err) {
    if (missing === undefined || !isMissing(err, name)) throw err
    const { error: Missing, otherwise: other } = missing
    const otherwise = other === undefined ? '' : ` (${other})`
    throw new Missing(`${missing.neededBy} needs the "${name}" package: npm install ${name}${otherwise}`, { cause: err })
  }
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
