import { execFileSync } from 'node:child_process'
import type { BuildInfo } from './build-info.js'
import { packageIdentity } from './build-info.js'

/** Run git in `cwd`; `undefined` when git is missing or `cwd` is not a work tree. */
function git (cwd: string, args: string[]): string | undefined {
  try {
    return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).trim()
  } catch {
    return undefined
  }
}

/**
 * The facts of a build made in `root` (the module's package directory).
 * `PYWATT_GIT_HASH` and `PYWATT_BUILD_TIME_UTC`, as the Rust SDK names them,
 * stand in for git and the clock in builds without `.git` or reproducible ones.
 */
export function collectBuildInfo (root: string, env: NodeJS.ProcessEnv = process.env, now: Date = new Date()): BuildInfo {
  const given = env.PYWATT_GIT_HASH
  let gitCommitFull = 'unknown'
  let gitCommit = 'unknown'
  let gitDirty: BuildInfo['gitDirty'] = 'unknown'
  if (given !== undefined && given !== '') {
    gitCommit = given.slice(0, 7)
    if (/^[0-9a-f]{40}$/i.test(given)) gitCommitFull = given.toLowerCase()
  } else {
    const full = git(root, ['rev-parse', 'HEAD'])
    if (full !== undefined && full !== '') {
      gitCommitFull = full
      gitCommit = full.slice(0, 7)
      const status = git(root, ['status', '--porcelain', '--untracked-files=no'])
      if (status !== undefined) gitDirty = status !== ''
    }
  }
  const time = env.PYWATT_BUILD_TIME_UTC
  return {
    ...packageIdentity(root),
    gitCommit,
    gitCommitFull,
    gitDirty,
    buildTime: time !== undefined && time !== '' ? time : now.toISOString(),
    node: process.version
  }
}
