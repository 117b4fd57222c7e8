import t from 'tap'
import { existsSync } from 'node:fs'
import { packageFile, loadPackage } from '../../lib/runtime/lazy-package.js'

t.test('packageFile finds what a driver package ships, and nothing else', async (t) => {
  const addon = packageFile('better-sqlite3', 'build/Release/better_sqlite3.node')
  t.ok(addon !== undefined && existsSync(addon), 'the SQLite addon where the install puts it')
  t.equal(packageFile('better-sqlite3', 'build/Debug/nothing-here.node'), undefined, 'a file the package does not have')
  t.equal(packageFile('no-such-driver-package', 'index.js'), undefined, 'a package that is not installed')
  t.equal(typeof loadPackage<(name: string) => unknown>('better-sqlite3'), 'function')
})
