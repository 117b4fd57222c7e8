import t from 'tap'
import { existsSync } from 'node:fs'
import { driverFile, loadDriver } from '../../lib/data/load-driver.js'

t.test('driverFile finds what a driver package ships, and nothing else', async (t) => {
  const addon = driverFile('better-sqlite3', 'build/Release/better_sqlite3.node')
  t.ok(addon !== undefined && existsSync(addon), 'the SQLite addon where the install puts it')
  t.equal(driverFile('better-sqlite3', 'build/Debug/nothing-here.node'), undefined, 'a file the package does not have')
  t.equal(driverFile('no-such-driver-package', 'index.js'), undefined, 'a package that is not installed')
  t.equal(typeof loadDriver<(name: string) => unknown>('better-sqlite3'), 'function')
})
