/* eslint-disable no-template-curly-in-string -- the templates write template literals of the generated code */
import type { Choices } from '../choices.js'
import { lang, lines } from './lang.js'

/*
 * The module's code: `src/app.*` (options and routes, imported by the tests),
 * `src/server.*` (runModule), and one route file per feature.
 */

/** The TypeScript output sits one directory deeper (dist/src) than the sources. */
const up = (c: Choices): string => c.typescript ? '../..' : '..'

export function app (c: Choices): string {
  const l = lang(c)
  const db = c.db !== 'none'
  const cache = c.cache !== 'none'
  return lines(
    c.migrations && "import { fileURLToPath } from 'node:url'",
    l.tsLine("import type { FastifyInstance } from 'fastify'"),
    l.tsLine("import type { RunModuleOptions } from 'fastify-pywatt'"),
    c.jwt && l.tsLine("import type {} from 'fastify-pywatt/jwt'"),
    'import { hello } from \'./routes/hello.js\'',
    db && `import { ${c.migrations ? 'notes' : 'database'} } from './routes/${c.migrations ? 'notes' : 'database'}.js'`,
    cache && 'import { cached } from \'./routes/cache.js\'',
    c.jwt && 'import { me } from \'./routes/me.js\'',
    '',
    '/**',
    ' * How the module starts: the root plugin\'s options and the sub-plugins it uses.',
    ' * Connection URLs are secrets: pywatt-dev answers them from .env.example, an',
    ' * orchestrator from its secret store, and they are scrubbed from the logs.',
    l.jsLine(" * @type {import('fastify-pywatt').RunModuleOptions}"),
    ' */',
    `export const options${l.ts(': RunModuleOptions')} = {`,
    '  pywatt: {',
    db
      ? `    db: { urlSecret: 'DATABASE_URL'${c.migrations ? `, migrations: fileURLToPath(new URL('${up(c)}/migrations', import.meta.url))` : ''} },`
      : '    db: false,',
    cache ? `    cache: { urlSecret: 'CACHE_URL', namespace: '${c.name}' }` : '    cache: false',
    '  },',
    `  ipcHttp: ${c.ipc},`,
    `  jwt: ${c.jwt},`,
    `  metrics: ${c.metrics}`,
    '}',
    '',
    '/**',
    ' * The module\'s routes: runModule calls it once the plugins are registered.',
    l.jsLine(" * @param {import('fastify').FastifyInstance} app"),
    ' */',
    `export async function build (app${l.ts(': FastifyInstance')})${l.ts(': Promise<void>')} {`,
    '  await app.register(hello)',
    db && `  await app.register(${c.migrations ? 'notes' : 'database'})`,
    cache && '  await app.register(cached)',
    c.jwt && '  await app.register(me)',
    '}'
  )
}

export function server (): string {
  return lines(
    "import { runModule } from 'fastify-pywatt'",
    "import { build, options } from './app.js'",
    '',
    '// The same code runs under an orchestrator, under pywatt-dev and standalone',
    '// (PYWATT_STANDALONE=1: secrets from the environment, HOST and PORT).',
    'await runModule(build, options)'
  )
}

function routeHead (c: Choices, name: string, doc: string): string {
  const l = lang(c)
  return lines(
    c.typescript ? `/** ${doc} */` : `/**\n * ${doc}\n * @param {import('fastify').FastifyInstance} app\n */`,
    `export async function ${name} (app${l.ts(': FastifyInstance')})${l.ts(': Promise<void>')} {`
  )
}

const typeImport = (c: Choices): string => c.typescript ? "import type { FastifyInstance } from 'fastify'\n\n" : ''

export function helloRoute (c: Choices): string {
  return typeImport(c) + routeHead(c, 'hello', 'GET /hello: the module\'s id, from Init (or `standalone`).') + lines(
    "  app.get('/hello', async () => ({ hello: 'world', module: app.pywatt.moduleId }))",
    '}'
  )
}

export function databaseRoute (c: Choices): string {
  const l = lang(c)
  return typeImport(c) + routeHead(c, 'database', 'GET /database: one query through `app.pywatt.db`.') + lines(
    '  app.get(\'/database\', async () => {',
    `    const row = await app.pywatt.db.queryOne${l.ts('<{ ok: number | string }>')}('SELECT 1 AS ok')`,
    '    return { dialect: app.pywatt.db.dialect, ok: Number(row?.ok) === 1 }',
    '  })',
    '}'
  )
}

export function notesRoute (c: Choices): string {
  const l = lang(c)
  return typeImport(c) + lines(
    l.tsLine('interface Note { id: number, body: string }'),
    l.tsLine(''),
    'const newNote = {',
    "  type: 'object',",
    "  required: ['body'],",
    "  properties: { body: { type: 'string', minLength: 1, maxLength: 200 } },",
    '  additionalProperties: false',
    `}${l.ts(' as const')}`,
    ''
  ) + routeHead(c, 'notes', 'GET and POST /notes: the table the first migration made.') + lines(
    '  const { db } = app.pywatt',
    `  app.get('/notes', async () => await db.query${l.ts('<Note>')}('SELECT id, body FROM notes ORDER BY id'))`,
    `  app.post${l.ts('<{ Body: { body: string } }>')}('/notes', { schema: { body: newNote } }, async (req, reply) => {`,
    l.jsLine('    const { body } = /** @type {{ body: string }} */ (req.body)'),
    l.tsLine('    const { body } = req.body'),
    '    await db.execute(`INSERT INTO notes (body) VALUES (${db.placeholder(1)})`, [body])',
    '    return await reply.code(201).send({ body })',
    '  })',
    '}'
  )
}

export function cacheRoute (c: Choices): string {
  const l = lang(c)
  return typeImport(c) + lines(
    'const keyParams = {',
    "  type: 'object',",
    "  properties: { key: { type: 'string', pattern: '^[a-z0-9-]{1,64}$' } },",
    "  required: ['key']",
    `}${l.ts(' as const')}`,
    'const valueBody = {',
    "  type: 'object',",
    "  properties: { value: { type: 'string', maxLength: 1000 } },",
    "  required: ['value'],",
    '  additionalProperties: false',
    `}${l.ts(' as const')}`,
    ''
  ) + routeHead(c, 'cached', 'PUT and GET /cache/:key: values kept a minute in `app.pywatt.cache`.') + lines(
    '  const { cache } = app.pywatt',
    `  app.put${l.ts('<{ Params: { key: string }, Body: { value: string } }>')}('/cache/:key', { schema: { params: keyParams, body: valueBody } }, async (req, reply) => {`,
    l.jsLine('    const { key } = /** @type {{ key: string }} */ (req.params)'),
    l.jsLine('    const { value } = /** @type {{ value: string }} */ (req.body)'),
    l.tsLine('    const { key } = req.params'),
    l.tsLine('    const { value } = req.body'),
    '    await cache.set(key, value, { ttl: 60_000 })',
    '    return await reply.code(204).send()',
    '  })',
    `  app.get${l.ts('<{ Params: { key: string } }>')}('/cache/:key', { schema: { params: keyParams } }, async (req, reply) => {`,
    l.jsLine('    const { key } = /** @type {{ key: string }} */ (req.params)'),
    l.tsLine('    const { key } = req.params'),
    `    const value = await cache.get${l.ts('<string>')}(key)`,
    "    if (value === undefined) return await reply.code(404).send({ error: 'not found' })",
    '    return { value }',
    '  })',
    '}'
  )
}

export function meRoute (c: Choices): string {
  return typeImport(c) + routeHead(c, 'me', 'GET /me: only with a bearer token signed with the JWT_SECRET secret (announced with auth "jwt").') + lines(
    "  app.get('/me', { config: { pywatt: { auth: 'jwt' } } }, async (req) => ({ sub: req.user.sub ?? null }))",
    '}'
  )
}

const MIGRATION: Record<Exclude<Choices['db'], 'none'>, string> = {
  sqlite: 'CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL);\n',
  postgres: 'CREATE TABLE IF NOT EXISTS notes (id SERIAL PRIMARY KEY, body TEXT NOT NULL);\n',
  mysql: 'CREATE TABLE IF NOT EXISTS notes (id INT AUTO_INCREMENT PRIMARY KEY, body VARCHAR(200) NOT NULL);\n'
}

export function firstMigration (c: Choices): string {
  if (c.db === 'none') throw new TypeError('migrations need a database')
  return MIGRATION[c.db]
}
