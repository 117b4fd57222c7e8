import t from 'tap'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ERR_PYWATT_DB_CONFIG } from '../../lib/errors.js'
import { isMissing, packageFile, loadPackage } from '../../lib/runtime/lazy-package.js'

const pgMissing = { neededBy: 'the postgres backend', error: ERR_PYWATT_DB_CONFIG }

t.test('packageFile finds what a driver package ships, and nothing else', async (t) => {
  const addon = packageFile('better-sqlite3', 'build/Release/better_sqlite3.node')
  t.ok(addon !== undefined && existsSync(addon), 'the SQLite addon where the install puts it')
  t.equal(packageFile('better-sqlite3', 'build/Debug/nothing-here.node'), undefined, 'a file the package does not have')
  t.equal(packageFile('no-such-driver-package', 'index.js'), undefined, 'a package that is not installed')
  t.equal(typeof loadPackage<(name: string) => unknown>('better-sqlite3'), 'function')
  t.equal(typeof loadPackage<(name: string) => unknown>('better-sqlite3', pgMissing), 'function', 'an installed package loads whatever the error would be')
})

t.test('a package that is not installed: the error names it and the line that installs it', async (t) => {
  let caught: unknown
  try {
    loadPackage('no-such-driver-package', pgMissing)
  } catch (err) {
    caught = err
  }
  t.ok(caught instanceof ERR_PYWATT_DB_CONFIG, 'the error class of the call site')
  t.match(caught, {
    code: 'FST_PYWATT_DB_CONFIG',
    message: 'Invalid database configuration: the postgres backend needs the "no-such-driver-package" package: npm install no-such-driver-package',
    cause: { code: 'MODULE_NOT_FOUND' }
  })
  t.throws(() => loadPackage('no-such-driver-package', { ...pgMissing, otherwise: 'or turn it off' }),
    { message: /npm install no-such-driver-package \(or turn it off\)$/ }, 'another way out, after the install line')
  t.throws(() => loadPackage('no-such-driver-package'), { code: 'MODULE_NOT_FOUND' }, 'without a call site\'s error, Node\'s own')
})

t.test('a module missing inside the package is not reported as the package missing', async (t) => {
  const dir = t.testdir()
  mkdirSync(join(dir, 'broken'))
  writeFileSync(join(dir, 'broken', 'package.json'), JSON.stringify({ name: 'broken', main: 'index.cjs' }))
  writeFileSync(join(dir, 'broken', 'index.cjs'), "module.exports = require('no-such-nested-module')\n")
  // An absolute path stands for a package name: require resolves both the same way from here on.
  const broken = join(dir, 'broken')
  let caught: unknown
  try {
    loadPackage(broken, pgMissing)
  } catch (err) {
    caught = err
  }
  t.notOk(caught instanceof ERR_PYWATT_DB_CONFIG, 'Node\'s error, as it is')
  t.match(caught, { code: 'MODULE_NOT_FOUND', message: /^Cannot find module 'no-such-nested-module'/ })
  t.notOk(isMissing(caught, broken))
  t.ok(isMissing(caught, 'no-such-nested-module'), 'the module that is missing')
  t.notOk(isMissing(new Error("Cannot find module 'x'"), 'x'), 'only Node\'s MODULE_NOT_FOUND')
  t.notOk(isMissing('x', 'x'))
})
