import type { Choices, Versions } from '../choices.js'
import { lines } from './lang.js'

/* The project's files around the code: package.json, tsconfig, env, README, ignores, CI. */

const DRIVERS: Record<string, Array<[name: string, version: keyof Versions]>> = {
  postgres: [['pg', 'pg'], ['@fastify/postgres', 'fastifyPostgres']],
  mysql: [['mysql2', 'mysql2']],
  redis: [['ioredis', 'ioredis'], ['@fastify/redis', 'fastifyRedis']],
  memcached: [['memjs', 'memjs']]
}

const sorted = (entries: Array<[string, string]>): Record<string, string> =>
  Object.fromEntries(entries.sort(([a], [b]) => a.localeCompare(b)))

/** The module's name for pywatt-dev (log prefix, console commands, `init.module_id`): the package name without its scope. */
function devModuleName (c: Choices): string {
  return (c.name.split('/').at(-1) as string).replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 64) || 'module'
}

/**
 * `pywatt.dev.json`: what `npm run dev` runs. A config file rather than flags
 * gives the module pywatt-dev's status page (/_pywatt), restarts after a crash
 * and named console commands; more modules can be added to it.
 */
export function devConfig (c: Choices): string {
  const module = {
    name: devModuleName(c),
    command: ['node', c.typescript ? 'dist/src/server.js' : 'src/server.js'],
    envFile: '.env.example',
    // HTTP over IPC: the gateway forwards over the module's stdin/stdout.
    ...(c.ipc ? { via: 'stdio' } : {})
  }
  return JSON.stringify({ modules: [module] }, null, 2) + '\n'
}

export function packageJson (c: Choices, v: Versions): string {
  const drivers = [...DRIVERS[c.db] ?? [], ...DRIVERS[c.cache] ?? []].map(([name, key]): [string, string] => [name, v[key]])
  const devDependencies: Array<[string, string]> = c.typescript
    ? [['typescript', v.typescript], ['@types/node', v.typesNode]]
    : []
  if (c.typescript && c.db === 'postgres') devDependencies.push(['@types/pg', v.typesPg])
  if (c.typescript && c.cache === 'memcached') devDependencies.push(['@types/memjs', v.typesMemjs])
  const scripts = c.typescript
    ? {
        build: 'tsc -p .',
        dev: 'npm run build && pywatt-dev',
        start: 'node dist/src/server.js',
        test: 'npm run build && node --test dist/test/*.test.js'
      }
    : {
        build: 'node --check src/server.js',
        dev: 'pywatt-dev',
        start: 'node src/server.js',
        test: 'node --test test/*.test.js'
      }
  const pkg = {
    name: c.name,
    version: '0.1.0',
    private: true,
    type: 'module',
    engines: { node: '>=20.19' },
    scripts,
    dependencies: sorted([['fastify', v.fastify], ['fastify-pywatt', v.pywatt], ...drivers]),
    ...(devDependencies.length === 0 ? {} : { devDependencies: sorted(devDependencies) })
  }
  return JSON.stringify(pkg, null, 2) + '\n'
}

export function tsconfig (): string {
  return JSON.stringify({
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      rootDir: '.',
      outDir: 'dist',
      strict: true,
      noUncheckedIndexedAccess: true,
      sourceMap: true,
      skipLibCheck: true,
      types: ['node']
    },
    include: ['src', 'test']
  }, null, 2) + '\n'
}

const DEV_URLS: Record<string, string> = {
  sqlite: 'sqlite:dev.sqlite',
  postgres: 'postgres://postgres@127.0.0.1:5432/postgres',
  mysql: 'mysql://root@127.0.0.1:3306/test',
  memory: 'memory:',
  redis: 'redis://127.0.0.1:6379',
  memcached: 'memcached://127.0.0.1:11211'
}

export function envExample (c: Choices): string {
  return lines(
    '# Secrets pywatt-dev answers to the module (`npm run dev`); an orchestrator has its own.',
    '# The tests read them too, the environment\'s values winning.',
    c.db !== 'none' && `DATABASE_URL=${DEV_URLS[c.db]}`,
    c.cache !== 'none' && `CACHE_URL=${DEV_URLS[c.cache]}`,
    c.jwt && 'JWT_SECRET=dev-jwt-secret-change-me-0123456789'
  )
}

export function gitignore (c: Choices): string {
  return lines('node_modules/', c.typescript && 'dist/', 'data/', '.env', '*.log')
}

/** The servers CI starts for the choices, as GitHub Actions service containers. */
function services (c: Choices): string[] {
  const out: string[] = []
  if (c.db === 'postgres') out.push('      postgres:', '        image: postgres:17', '        env: { POSTGRES_HOST_AUTH_METHOD: trust }', '        ports: ["5432:5432"]')
  if (c.db === 'mysql') out.push('      mysql:', '        image: mariadb:11', '        env: { MARIADB_ALLOW_EMPTY_ROOT_PASSWORD: "1", MARIADB_DATABASE: test }', '        ports: ["3306:3306"]')
  if (c.cache === 'redis') out.push('      redis:', '        image: redis:7', '        ports: ["6379:6379"]')
  if (c.cache === 'memcached') out.push('      memcached:', '        image: memcached:1.6', '        ports: ["11211:11211"]')
  return out.length === 0 ? [] : ['    services:', ...out]
}

export function ciWorkflow (c: Choices): string {
  return lines(
    'name: CI',
    'on: [push, pull_request]',
    'jobs:',
    '  test:',
    '    runs-on: ubuntu-latest',
    ...services(c),
    '    steps:',
    '      - uses: actions/checkout@v4',
    '      - uses: actions/setup-node@v4',
    '        with: { node-version: 20, cache: npm }',
    '      - run: npm ci',
    '      - run: npm test'
  )
}

export function readme (c: Choices): string {
  const features = [
    c.db !== 'none' && `- Database: ${c.db} (\`app.pywatt.db\`, URL from the \`DATABASE_URL\` secret)${c.migrations ? '; `migrations/` applied at start' : ''}`,
    c.cache !== 'none' && `- Cache: ${c.cache} (\`app.pywatt.cache\`, URL from the \`CACHE_URL\` secret)`,
    c.jwt && '- JWT auth: `GET /me` needs a bearer token signed with the `JWT_SECRET` secret',
    c.ipc && '- HTTP over IPC: the orchestrator may forward requests over stdin/stdout',
    c.metrics && '- Prometheus metrics: `GET /metrics`'
  ].filter((f): f is string => f !== false)
  return lines(
    `# ${c.name}`,
    '',
    'A [PyWatt](https://github.com/) module built with [fastify-pywatt](https://www.npmjs.com/package/fastify-pywatt).',
    '',
    ...features.length === 0 ? [] : [...features, ''],
    '```sh',
    `npm run dev     # ${c.typescript ? 'build, then serve' : 'serve'} through pywatt-dev: http://127.0.0.1:8080, status page at /_pywatt`,
    'npm test        # in process, and as a child process under the orchestrator double',
    c.typescript && 'npm run build   # compile to dist/',
    'npm start       # run the module as an orchestrator starts it',
    '```',
    '',
    '`npm run dev` runs what `pywatt.dev.json` lists: this module; add others, each with a `mount`, to run them together.',
    '`.env.example` holds the secrets pywatt-dev answers with; edit it to point at other servers.',
    'The tests read it too, with the environment\'s values winning. `PYWATT_DEV_GATEWAY_PORT=3000 npm run dev`',
    'serves on another port.'
  )
}
