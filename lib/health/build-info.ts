import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'

/** What a module's build recorded about itself; a fact nobody could learn is `"unknown"`. */
export interface BuildInfo {
  /** The module's package name and version (its package.json). */
  name: string
  version: string
  /** Short and full git commit of the build. */
  gitCommit: string
  gitCommitFull: string
  /** Uncommitted changes in the work tree at build time. */
  gitDirty: boolean | 'unknown'
  /** Build time, RFC 3339 in UTC. */
  buildTime: string
  /** The Node.js version that ran the build. */
  node: string
}

/** The file `pywatt-build-info` writes next to the module's package.json. */
export const BUILD_INFO_FILE = 'pywatt-build.json'

const UNKNOWN = 'unknown'

/** The closest directory at or above `start` holding a package.json, if any. */
export function packageRoot (start: string): string | undefined {
  let dir = resolve(start)
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir
    const parent = dirname(dir)
    if (parent === dir) return undefined
    dir = parent
  }
}

function text (value: unknown): string {
  return typeof value === 'string' && value !== '' ? value : UNKNOWN
}

/** Name and version of the package.json in `root`; unknown when it cannot be read. */
export function packageIdentity (root: string | undefined): Pick<BuildInfo, 'name' | 'version'> {
  if (root === undefined) return { name: UNKNOWN, version: UNKNOWN }
  try {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name?: unknown, version?: unknown }
    return { name: text(pkg.name), version: text(pkg.version) }
  } catch {
    return { name: UNKNOWN, version: UNKNOWN }
  }
}

/**
 * Every field of a build-info object, unknown where `value` lacks it or has
 * the wrong type: a hand-edited or older file never breaks a start.
 */
export function normalizeBuildInfo (value: unknown): BuildInfo {
  const v = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>
  return {
    name: text(v.name),
    version: text(v.version),
    gitCommit: text(v.gitCommit),
    gitCommitFull: text(v.gitCommitFull),
    gitDirty: typeof v.gitDirty === 'boolean' ? v.gitDirty : UNKNOWN,
    buildTime: text(v.buildTime),
    node: text(v.node)
  }
}

/**
 * The build info of the running module: the file at `option` (a path), the
 * object given, or, by default, `pywatt-build.json` next to the package.json
 * above the entry script. Without a file, name and version still come from
 * that package.json. A file that cannot be read or parsed is reported through
 * `warn` and counts as absent.
 */
export function loadBuildInfo (option: string | Partial<BuildInfo> | undefined, entry: string | undefined, warn: (message: string, file: string) => void): BuildInfo {
  if (typeof option === 'object') return normalizeBuildInfo(option)
  const root = entry === undefined ? undefined : packageRoot(dirname(entry))
  const file = option ?? (root === undefined ? undefined : join(root, BUILD_INFO_FILE))
  if (file !== undefined && (option !== undefined || existsSync(file))) {
    try {
      return normalizeBuildInfo(JSON.parse(readFileSync(file, 'utf8')))
    } catch (err) {
      warn(`the build info cannot be read: ${(err as Error).message}`, file)
    }
  }
  return { ...normalizeBuildInfo({}), ...packageIdentity(root) }
}
