/* eslint-disable no-template-curly-in-string -- the templates write template literals of the generated code */
import type { Choices } from '../choices.js'
import { lang, lines } from './lang.js'

/*
 * The generated project's tests (node:test): the app in process, standalone,
 * through `inject`; and the built server as a child process under
 * `DevOrchestrator`, the orchestrator double of fastify-pywatt/dev.
 */

/** What the tests ask of each route the choices add; `inject` in process, `call` in the child. */
function checks (c: Choices, call: string): string[] {
  const l = lang(c)
  const out: string[] = []
  if (c.db !== 'none' && c.migrations) {
    out.push(
      `  const created = await ${call}('POST', '/notes', { body: 'first note' })`,
      '  assert.equal(created.status, 201)',
      `  const notes = await ${call}('GET', '/notes')`,
      '  assert.equal(notes.status, 200)',
      `  assert.ok(notes.json.some((${l.js('/** @type {{ body: string }} */ ')}n${l.ts(': { body: string }')}) => n.body === 'first note'))`
    )
  }
  if (c.db !== 'none' && !c.migrations) {
    out.push(
      `  const database = await ${call}('GET', '/database')`,
      `  assert.deepEqual(database.json, { dialect: '${c.db}', ok: true })`
    )
  }
  if (c.cache !== 'none') {
    out.push(
      '  const key = `key-${process.pid}`',
      `  assert.equal((await ${call}('PUT', \`/cache/\${key}\`, { value: 'kept' })).status, 204)`,
      `  assert.deepEqual((await ${call}('GET', \`/cache/\${key}\`)).json, { value: 'kept' })`
    )
  }
  if (c.jwt) out.push(`  assert.equal((await ${call}('GET', '/me')).status, 401)`)
  if (c.metrics) {
    out.push(
      `  const metrics = await ${call}('GET', '/metrics')`,
      '  assert.equal(metrics.status, 200)',
      '  assert.match(metrics.text, /^# HELP /m)'
    )
  }
  return out
}

const REPLY = 'Promise<{ status: number, text: string, json: any }>'

/** `{ status, text, json }` of a reply, typed loosely enough for every route. */
function replyType (c: Choices): string {
  return lang(c).ts(`: ${REPLY}`)
}

/** The JavaScript variant's type of the `call` helper, as JSDoc (the TypeScript one annotates it inline). */
function callJsDoc (c: Choices, method: string, path: string): string | false {
  return lang(c).jsLine(`  /** @type {(method: ${method}, ${path}: string, body?: object) => ${REPLY}} */`)
}

export function secretsHelper (c: Choices): string {
  const l = lang(c)
  return lines(
    "import { readFileSync } from 'node:fs'",
    "import { parseEnv } from 'node:util'",
    '',
    '/**',
    ' * The secrets the module asks for: those of .env.example, the environment\'s',
    ' * own values winning (CI points them at its servers)' + (c.db === 'sqlite' ? '; SQLite in memory.' : '.'),
    l.jsLine(' * @returns {Record<string, string>}'),
    ' */',
    `export function testSecrets ()${l.ts(': Record<string, string>')} {`,
    "  const example = parseEnv(readFileSync('.env.example', 'utf8'))",
    c.db === 'sqlite' && "  example.DATABASE_URL = 'sqlite::memory:'",
    l.jsLine('  /** @type {Record<string, string>} */'),
    `  const secrets${l.ts(': Record<string, string>')} = {}`,
    '  for (const [name, value] of Object.entries(example)) secrets[name] = process.env[name] ?? value ?? \'\'',
    '  return secrets',
    '}'
  )
}

export function appTest (c: Choices): string {
  const l = lang(c)
  return lines(
    "import { test } from 'node:test'",
    "import assert from 'node:assert/strict'",
    "import { runModule } from 'fastify-pywatt'",
    "import { build, options } from '../src/app.js'",
    "import { testSecrets } from './secrets.js'",
    '',
    '// Standalone: the secrets come from the environment; the module listens on a free port.',
    "Object.assign(process.env, testSecrets(), { PORT: '0', HOST: '127.0.0.1' })",
    '',
    "test('in process: the routes answer through inject', async (t) => {",
    '  // Standalone, no signal handlers, no exit: the test process owns itself. Warnings and errors only in the output.',
    "  const app = await runModule(build, { ...options, signals: false, logger: { level: 'warn' }, pywatt: { ...options.pywatt, standalone: true, exitOnStop: false } })",
    '  t.after(() => app.close())',
    callJsDoc(c, "'GET' | 'POST' | 'PUT'", 'url'),
    `  const call = async (method${l.ts(": 'GET' | 'POST' | 'PUT'")}, url${l.ts(': string')}, body${l.ts('?: object')})${replyType(c)} => {`,
    '    const res = await app.inject({ method, url, ...(body === undefined ? {} : { payload: body }) })',
    "    return { status: res.statusCode, text: res.body, json: res.headers['content-type']?.toString().startsWith('application/json') === true ? res.json() : undefined }",
    '  }',
    "  const hello = await call('GET', '/hello')",
    "  assert.deepEqual(hello.json, { hello: 'world', module: 'standalone' })",
    ...checks(c, 'call'),
    c.jwt && "  const token = app.pywatt.jwt?.sign({ sub: 'user-1' })",
    c.jwt && "  const me = await app.inject({ url: '/me', headers: { authorization: `Bearer ${token}` } })",
    c.jwt && "  assert.deepEqual(me.json(), { sub: 'user-1' })",
    '})'
  )
}

export function moduleTest (c: Choices): string {
  const l = lang(c)
  return lines(
    "import { test } from 'node:test'",
    "import assert from 'node:assert/strict'",
    "import { fileURLToPath } from 'node:url'",
    "import { DevOrchestrator } from 'fastify-pywatt/dev'",
    "import { testSecrets } from './secrets.js'",
    '',
    "const SERVER = fileURLToPath(new URL('../src/server.js', import.meta.url))",
    '',
    "test('as a child process: started by the orchestrator double, it announces its routes and serves them', async (t) => {",
    '  const dev = new DevOrchestrator({ command: process.execPath, args: [SERVER], secrets: testSecrets() })',
    '  t.after(() => dev.kill())',
    '  await dev.start()',
    '  const endpoints = await dev.announced()',
    "  assert.ok(endpoints.some((e) => e.path === '/hello'))",
    c.jwt && "  assert.equal(endpoints.find((e) => e.path === '/me')?.auth, 'jwt')",
    callJsDoc(c, 'string', 'path'),
    `  const call = async (method${l.ts(': string')}, path${l.ts(': string')}, body${l.ts('?: object')})${replyType(c)} => {`,
    '    const res = await fetch(`http://${dev.announcedListen}${path}`, {',
    '      method,',
    "      ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })",
    '    })',
    '    const text = await res.text()',
    "    return { status: res.status, text, json: res.headers.get('content-type')?.startsWith('application/json') === true ? JSON.parse(text) : undefined }",
    '  }',
    "  assert.equal((await call('GET', '/hello')).json.module, 'dev-module')",
    ...checks(c, 'call'),
    c.ipc && '  // HTTP over IPC: the same route, asked over the module\'s stdin/stdout.',
    c.ipc && "  const overIpc = await dev.request({ method: 'GET', uri: '/hello' })",
    c.ipc && '  assert.equal(overIpc.status_code, 200)',
    '  const exit = await dev.shutdown()',
    '  assert.equal(exit.code, 0)',
    '})'
  )
}
