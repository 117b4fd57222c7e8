/*
 * `npm create pywatt-module` installs packages/create-pywatt-module, which
 * forwards to this package's bin. The two are released together: the
 * wrapper's version and its dependency on this package must follow this
 * package's version, or `npm create pywatt-module@X` would generate with
 * another release's templates.
 */
import t from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

interface Manifest {
  name: string
  version: string
  engines: { node: string }
  bin: Record<string, string>
  files?: string[]
  dependencies?: Record<string, string>
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const wrapperDir = join(root, 'packages', 'create-pywatt-module')
const read = (dir: string): Manifest => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest
const own = read(root)
const wrapper = read(wrapperDir)

t.test('the wrapper is released with this package: same version, depending on exactly this release line', async (t) => {
  t.equal(wrapper.version, own.version, `packages/create-pywatt-module/package.json: "version" must be "${own.version}"`)
  t.same(wrapper.dependencies, { [own.name]: `^${own.version}` }, `packages/create-pywatt-module/package.json: depend on ${own.name} ^${own.version} only`)
  t.equal(wrapper.engines.node, own.engines.node, 'the same Node.js range')
})

t.test('npm create finds its bin, and the bin it forwards to exists in this package', async (t) => {
  t.equal(wrapper.name, 'create-pywatt-module', 'npm create pywatt-module installs create-pywatt-module')
  const bin = wrapper.bin['create-pywatt-module'] as string
  t.ok(existsSync(join(wrapperDir, bin)), `${bin} exists`)
  t.ok(wrapper.files?.includes(bin.replace(/^\.\//, '')), 'and is published')
  t.match(readFileSync(join(wrapperDir, bin), 'utf8'), /bin\['create-pywatt-module'\]/, 'it forwards to the bin of that name')
  t.equal(own.bin['create-pywatt-module'], './dist/bin/create-pywatt-module.js', 'which this package declares')
})
