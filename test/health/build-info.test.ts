import t from 'tap'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Fastify from 'fastify'
import pywatt from '../../plugins/index.js'
import { BUILD_INFO_FILE, loadBuildInfo, normalizeBuildInfo } from '../../lib/health/build-info.js'
import { collectBuildInfo } from '../../lib/health/collect-build-info.js'
import { FakeOrchestrator } from '../helpers/fake-orchestrator.js'

const BIN = fileURLToPath(new URL('../../dist/bin/pywatt-build-info.js', import.meta.url))

/** A module package in a temporary directory: package.json, and optionally a git work tree with one commit. */
function modulePackage (git: boolean): string {
  const dir = mkdtempSync(join(tmpdir(), 'pw-build-'))
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'notes-module', version: '2.3.4' }))
  writeFileSync(join(dir, 'server.js'), '')
  if (git) {
    const run = (...args: string[]): string => execFileSync('git', args, { cwd: dir, encoding: 'utf8' }).trim()
    run('init', '-q')
    run('-c', 'user.name=t', '-c', 'user.email=t@example.com', 'add', '.')
    run('-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-qm', 'first')
  }
  return dir
}

t.test('a build in a git work tree: commit, dirty flag, time, package and Node', async (t) => {
  const dir = modulePackage(true)
  const full = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: dir, encoding: 'utf8' }).trim()
  const now = new Date('2026-12-04T10:00:00.000Z')
  t.same(collectBuildInfo(dir, {}, now), {
    name: 'notes-module',
    version: '2.3.4',
    gitCommit: full.slice(0, 7),
    gitCommitFull: full,
    gitDirty: false,
    buildTime: '2026-12-04T10:00:00.000Z',
    node: process.version
  })
  writeFileSync(join(dir, 'server.js'), 'changed')
  t.equal(collectBuildInfo(dir, {}, now).gitDirty, true, 'a changed tracked file makes it dirty')
})

t.test('without git: unknown, never a crash; the Rust SDK\'s variables stand in', async (t) => {
  const dir = modulePackage(false)
  t.match(collectBuildInfo(dir, {}), { name: 'notes-module', gitCommit: 'unknown', gitCommitFull: 'unknown', gitDirty: 'unknown' })
  const full = 'A'.repeat(40)
  t.match(collectBuildInfo(dir, { PYWATT_GIT_HASH: full, PYWATT_BUILD_TIME_UTC: '2025-06-01T12:00:00Z' }), {
    gitCommit: 'AAAAAAA', gitCommitFull: 'a'.repeat(40), gitDirty: 'unknown', buildTime: '2025-06-01T12:00:00Z'
  })
  t.match(collectBuildInfo(dir, { PYWATT_GIT_HASH: '154ca41' }), { gitCommit: '154ca41', gitCommitFull: 'unknown' })
  const bare = mkdtempSync(join(tmpdir(), 'pw-build-'))
  t.match(collectBuildInfo(bare, {}), { name: 'unknown', version: 'unknown' }, 'no package.json')
  writeFileSync(join(bare, 'package.json'), '{not json')
  t.match(collectBuildInfo(bare, {}), { name: 'unknown', version: 'unknown' }, 'an unreadable package.json')
})

t.test('the pywatt-build-info bin writes the file next to the package.json above --dir', async (t) => {
  const dir = modulePackage(true)
  mkdirSync(join(dir, 'src'))
  const run = spawnSync(process.execPath, [BIN, '--dir', join(dir, 'src')], { encoding: 'utf8', env: { ...process.env, PYWATT_BUILD_TIME_UTC: '2026-01-02T03:04:05Z' } })
  t.equal(run.status, 0, run.stderr)
  t.match(run.stdout, /pywatt-build\.json \(notes-module@2\.3\.4, [0-9a-f]{7}\)/)
  const written = JSON.parse(readFileSync(join(dir, BUILD_INFO_FILE), 'utf8'))
  t.match(written, { name: 'notes-module', version: '2.3.4', gitDirty: false, buildTime: '2026-01-02T03:04:05Z' })
  const out = join(dir, 'elsewhere.json')
  t.equal(spawnSync(process.execPath, [BIN, '--dir', dir, '--out', out]).status, 0)
  t.match(JSON.parse(readFileSync(out, 'utf8')), { name: 'notes-module' })
  const bad = spawnSync(process.execPath, [BIN, '--nope'], { encoding: 'utf8' })
  t.equal(bad.status, 2)
  t.match(bad.stderr, /Unknown option '--nope'[\s\S]*usage: pywatt-build-info/)
})

t.test('loading: a path, an object, the file next to the package.json, or the package alone', async (t) => {
  const dir = modulePackage(false)
  const warnings: Array<[string, string]> = []
  const warn = (message: string, file: string): void => { warnings.push([message, file]) }
  const entry = join(dir, 'server.js')
  t.match(loadBuildInfo(undefined, entry, warn), { name: 'notes-module', version: '2.3.4', gitCommit: 'unknown' }, 'no file: the package identity')
  writeFileSync(join(dir, BUILD_INFO_FILE), JSON.stringify({ name: 'notes-module', version: '2.3.4', gitCommit: 'abc1234', gitDirty: true, buildTime: 'T', node: 'v20' }))
  t.match(loadBuildInfo(undefined, entry, warn), { gitCommit: 'abc1234', gitDirty: true }, 'discovered next to the package.json')
  const other = join(dir, 'other.json')
  writeFileSync(other, JSON.stringify({ gitCommit: 'fff0000', extra: 1, version: 7 }))
  t.same(loadBuildInfo(other, entry, warn), normalizeBuildInfo({ gitCommit: 'fff0000' }), 'a path; wrong types and unknown fields ignored')
  t.same(loadBuildInfo({ version: '9.9.9' }, entry, warn), normalizeBuildInfo({ version: '9.9.9' }), 'an object')
  t.same(warnings, [])
  writeFileSync(other, '{broken')
  t.match(loadBuildInfo(other, entry, warn), { name: 'notes-module', gitCommit: 'unknown' }, 'a broken file counts as absent')
  t.match(warnings, [[/the build info cannot be read/, other]])
  t.match(loadBuildInfo(join(dir, 'missing.json'), entry, warn), { gitCommit: 'unknown' }, 'a path that does not exist')
  t.equal(warnings.length, 2, 'and is reported')
  t.match(loadBuildInfo(undefined, undefined, warn), { name: 'unknown' }, 'no entry script (a REPL)')
})

t.test('the root plugin: fastify.pywatt.build, frozen; a broken file is a warning, not a refusal', async (t) => {
  const orch = new FakeOrchestrator()
  const lines: string[] = []
  const app = Fastify({ logger: { level: 'warn', stream: { write: (l: string) => { lines.push(l) } } } })
  t.after(() => app.close())
  orch.init()
  const dir = modulePackage(false)
  writeFileSync(join(dir, 'bad.json'), '{')
  await app.register(pywatt, { io: orch.io, buildInfo: join(dir, 'bad.json') })
  t.ok(Object.isFrozen(app.pywatt.build))
  t.equal(app.pywatt.build.gitCommit, 'unknown')
  t.ok(lines.some((l) => /the build info cannot be read/.test(l)))
})
