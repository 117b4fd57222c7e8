import t from 'tap'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { loadDevConfig, resolveDevConfig } from '../../lib/dev/config.js'
import { RouteTable } from '../../lib/dev/routes.js'

const one = { name: 'users', command: 'node users.js' }

t.test('a bad config is refused, naming the key at fault', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    [{}, /^Invalid pywatt-dev config: config: modules: Expected required property$/],
    [{ modules: [] }, /modules: Expected array length to be greater or equal to 1/],
    [{ modules: [one], gatewayport: 1 }, /config: gatewayport: Unexpected property/],
    [{ modules: [{ ...one, cmd: 'x' }] }, /modules\.0\.cmd: Unexpected property/],
    [{ modules: [{ name: 'users' }] }, /modules\.0\.command: Expected required property/],
    [{ modules: [{ ...one, name: 'has space' }] }, /modules\.0\.name: Expected string to match/],
    [{ modules: [{ ...one, via: 'pigeon' }] }, /modules\.0\.via/],
    [{ modules: [{ ...one, mount: 'users' }] }, /modules\.0\.mount: Expected string to match/],
    [{ modules: [{ ...one, mount: '/users/' }] }, /modules\.0\.mount/],
    [{ modules: [one], gatewayPort: 70000 }, /gatewayPort: Expected integer to be less or equal to 65535/],
    [{ modules: [one], restart: { maxCrashes: 0 } }, /restart\.maxCrashes/],
    [{ modules: [{ ...one, channels: { tcp: 'yes' } }] }, /modules\.0\.channels\.tcp: Expected boolean/],
    [{ modules: [one, { ...one, command: 'node other.js' }] }, /modules\.1\.name: 'users' is already modules\.0's/],
    [{ modules: [{ ...one, mount: '/a' }, { name: 'b', command: 'x', mount: '/a' }] }, /modules\.1\.mount: '\/a' is already modules\.0's/],
    [{ modules: [{ ...one, via: 'unix' }] }, /modules\.0\.via: 'unix' needs modules\.0\.channels\.unix/],
    [{ modules: [{ ...one, command: '   ' }] }, /modules\.0\.command: no program/]
  ]
  for (const [config, message] of cases) {
    t.throws(() => resolveDevConfig(config, '/cfg'), { code: 'FST_PYWATT_DEV_CONFIG', message }, JSON.stringify(config))
  }
})

t.test('defaults, and paths relative to the config file', async (t) => {
  const config = resolveDevConfig({
    modules: [
      { name: 'users', command: 'node  dist/users.js --flag', envFile: 'users.env', channels: { unix: 'run/users.sock' }, mount: '/users' },
      { name: 'orders', command: ['node', 'dist/orders.js', 'an arg'], cwd: '../orders', envFile: ['/abs/a.env', 'b.env'], via: 'tcp', databaseUrl: 'sqlite::memory:' }
    ],
    databaseUrl: 'sqlite:shared.sqlite'
  }, '/cfg/dir', '/cfg/dir/pywatt.dev.json')
  t.match(config, { file: '/cfg/dir/pywatt.dev.json', gatewayPort: 8080, heartbeat: 5000, announceTimeout: 10, serviceEcho: true, restart: { initialDelay: 500, maxDelay: 10_000, maxCrashes: 5, window: 60_000 } })
  t.match(config.modules[0], { command: 'node', args: ['dist/users.js', '--flag'], cwd: '/cfg/dir', envFiles: ['/cfg/dir/users.env'], unixChannel: '/cfg/dir/run/users.sock', tcpChannel: false, via: 'http', mount: '/users', databaseUrl: 'sqlite:shared.sqlite', cacheUrl: 'memory:' })
  t.match(config.modules[1], { command: 'node', args: ['dist/orders.js', 'an arg'], cwd: '/cfg/orders', envFiles: ['/abs/a.env', '/cfg/dir/b.env'], tcpChannel: true, via: 'tcp', databaseUrl: 'sqlite::memory:' })
})

t.test('config files: JSON, TypeScript with defineDevConfig, and what cannot be loaded', async (t) => {
  const dir = t.testdir({
    'pywatt.dev.json': JSON.stringify({ modules: [{ name: 'users', command: 'node u.js', cwd: 'users' }] }),
    'broken.json': '{ "modules": [',
    'bad-key.json': JSON.stringify({ modules: [{ name: 'users', command: 'x', mount: 'no-slash' }] }),
    'pywatt.dev.ts': [
      "import { defineDevConfig } from 'fastify-pywatt/dev'",
      'const port: number = 0',
      'export default defineDevConfig({ gatewayPort: port, modules: [{ name: \'users\', command: [\'node\', \'u.js\'], mount: \'/users\' }] })'
    ].join('\n'),
    'config.yaml': 'modules: []'
  })
  const json = await loadDevConfig(join(dir, 'pywatt.dev.json'))
  t.equal(json.modules[0]?.cwd, join(dir, 'users'), 'relative to the file')
  const ts = await loadDevConfig(join(dir, 'pywatt.dev.ts'))
  t.equal(ts.gatewayPort, 0)
  t.match(ts.modules[0], { name: 'users', command: 'node', args: ['u.js'], mount: '/users', cwd: dir })
  t.same(readdirSync(dir).filter((f) => f.endsWith('.mjs')), [], 'the transpiled file is removed')
  await t.rejects(loadDevConfig(join(dir, 'broken.json')), { code: 'FST_PYWATT_DEV_CONFIG', message: /broken\.json: cannot be loaded: / })
  await t.rejects(loadDevConfig(join(dir, 'bad-key.json')), { code: 'FST_PYWATT_DEV_CONFIG', message: /bad-key\.json: modules\.0\.mount: / })
  await t.rejects(loadDevConfig(join(dir, 'config.yaml')), { message: /a config is a \.json, \.ts, \.mts, \.js or \.mjs file, not '\.yaml'/ })
  await t.rejects(loadDevConfig(join(dir, 'missing.json')), { message: /missing\.json: no such file/ })
})

t.test('RouteTable: mounts, longest prefix, methods, conflicts', async (t) => {
  const routes = new RouteTable()
  routes.declare('api')
  routes.declare('items')
  routes.declare('admin', '/admin')
  routes.declare('deep', '/admin/deep')
  t.same(routes.announce('api', [{ path: '/api/*', methods: ['GET', 'POST'] }, { path: '/health', methods: ['GET'] }]), [])
  const conflicts = routes.announce('items', [{ path: '/api/items/:id', methods: ['GET', 'DELETE'] }, { path: '/health', methods: ['GET', 'HEAD'] }, { path: '/api/*', methods: ['PUT'] }])
  t.same(conflicts, [{ method: 'GET', path: '/health', kept: 'api', other: 'items' }], 'same path and method; other methods are no conflict')
  t.same(routes.announce('admin', [{ path: '/health', methods: ['GET'] }]), [], 'a mounted module does not conflict with unmounted ones')
  t.same(routes.match('GET', '/api/items/7?x=1'), { module: 'items', uri: '/api/items/7?x=1' }, 'longer static prefix')
  t.same(routes.match('POST', '/api/items/7'), { module: 'api', uri: '/api/items/7' }, 'an endpoint of the method first')
  t.same(routes.match('GET', '/api/other'), { module: 'api', uri: '/api/other' })
  t.same(routes.match('GET', '/health'), { module: 'api', uri: '/health' }, 'the first announcer keeps a conflict')
  t.same(routes.match('GET', '/admin/x?q'), { module: 'admin', uri: '/x?q' }, 'mount stripped')
  t.same(routes.match('GET', '/admin'), { module: 'admin', uri: '/' })
  t.same(routes.match('GET', '/admin/deep/y'), { module: 'deep', uri: '/y' }, 'longest mount')
  t.equal(routes.match('GET', '/administrator'), null, 'a mount matches whole segments')
  t.equal(routes.match('GET', '/nothing'), null)
  routes.withdraw('items')
  t.same(routes.match('GET', '/api/items/7'), { module: 'api', uri: '/api/items/7' }, 'a withdrawn module routes nothing')
})
