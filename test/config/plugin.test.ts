import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { Type } from '@sinclair/typebox'
import pywatt, { configSecret, EXIT, type ConfigChange, type ConfigProblem } from '../../plugins/index.js'
import { FakeOrchestrator, until } from '../helpers/fake-orchestrator.js'
import { inProcessModule } from '../helpers/in-process.js'
import { captureLogger } from '../helpers/log-capture.js'

/** Set process environment variables for one test. */
function setEnv (t: Test, vars: Record<string, string>): void {
  for (const [name, value] of Object.entries(vars)) {
    const before = process.env[name]
    process.env[name] = value
    t.after(() => { if (before === undefined) delete process.env[name]; else process.env[name] = before })
  }
}

/** The configuration without a declared type (the plugin form types it by declaration merging; see types.test.ts). */
function configOf (app: { pywatt: { config: object } }): Record<string, unknown> {
  return app.pywatt.config as Record<string, unknown>
}

const setup = inProcessModule

t.test('plain fields: init.env wins over the process environment, which wins over the default; names default to UPPER_SNAKE_CASE', async (t) => {
  const { orch, app } = setup(t)
  setEnv(t, { CFG_T1_HOST: 'from-process', CFG_T1_PORT: '7000', CFG_T1_CUSTOM: 'custom-from-process', CFG_T1_LEVEL: 'warn' })
  orch.init({ env: { CFG_T1_HOST: 'from-init', CFG_T1_RETRIES: '5' } })
  await app.register(pywatt, {
    io: orch.io,
    config: Type.Object({
      cfgT1Host: Type.String(),
      cfgT1Port: Type.Integer(),
      cfgT1Retries: Type.Integer({ default: 1 }),
      cfgT1Timeout: Type.Number({ default: 2.5 }),
      custom: Type.String({ env: 'CFG_T1_CUSTOM' }),
      level: Type.Union([Type.Literal('info'), Type.Literal('warn')], { env: 'CFG_T1_LEVEL', default: 'info' }),
      tags: Type.Array(Type.String(), { default: ['a'] }),
      maybe: Type.Optional(Type.String({ env: 'CFG_T1_UNSET' }))
    })
  })
  t.same({ ...app.pywatt.config }, {
    cfgT1Host: 'from-init',
    cfgT1Port: 7000,
    cfgT1Retries: 5,
    cfgT1Timeout: 2.5,
    custom: 'custom-from-process',
    level: 'warn',
    tags: ['a']
  })
  t.notOk('maybe' in app.pywatt.config, 'an optional field with no value is absent')
  t.ok(Object.isFrozen(app.pywatt.config))
  t.throws(() => { (app.pywatt.config as Record<string, unknown>).cfgT1Port = 1 }, TypeError, 'the app cannot change it')
})

t.test('without a config schema, fastify.pywatt.config is an empty object', async (t) => {
  const { orch, app } = setup(t)
  orch.init({ env: { ANYTHING: 'x' } })
  await app.register(pywatt, { io: orch.io })
  t.same({ ...app.pywatt.config }, {})
})

t.test('a secret field comes from the secret store, fetched alongside the secrets option; its value is scrubbed from logs', async (t) => {
  const { orch, app, log } = setup(t)
  setEnv(t, { DB_PASSWORD: 'the-process-env-is-not-read-for-secret-fields' })
  orch.init({ env: { DB_PASSWORD: 'nor-init-env' } })
  const registering = (async () => {
    await app.register(pywatt, {
      io: orch.io,
      secrets: ['OTHER'],
      config: Type.Object({
        dbPassword: configSecret(Type.String(), 'DB_PASSWORD'),
        poolSize: Type.Integer({ secret: 'POOL_SIZE' }),
        account: Type.Object({ user: Type.String(), pass: Type.String() }, { secret: 'ACCOUNT' })
      })
    })
  })()
  await orch.waitFor((l) => l.op === 'get_secret' && l.name === 'OTHER')
  t.same(orch.ops('get_secret').map((l) => l.name).sort(), ['ACCOUNT', 'DB_PASSWORD', 'OTHER', 'POOL_SIZE'], 'every request is out before any answer')
  orch.send({ op: 'secret', name: 'POOL_SIZE', value: '987654' })
  orch.send({ op: 'secret', name: 'ACCOUNT', value: '{ "user": "svc-account-user", "pass": "svc-account-pass" }' })
  orch.send({ op: 'secret', name: 'DB_PASSWORD', value: 'pw-from-the-orchestrator' })
  orch.send({ op: 'secret', name: 'OTHER', value: 'other-value' })
  await registering
  t.equal(configOf(app).dbPassword, 'pw-from-the-orchestrator')
  t.equal(configOf(app).poolSize, 987654, 'coerced like any field')
  t.same(configOf(app).account, { user: 'svc-account-user', pass: 'svc-account-pass' })
  app.log.info({ config: app.pywatt.config }, 'configured with pw-from-the-orchestrator, pool 987654')
  const line = log.lines.find((l) => l.includes('configured with')) ?? ''
  for (const value of ['pw-from-the-orchestrator', '987654', 'svc-account-user', 'svc-account-pass']) t.notMatch(line, value, `${value} is scrubbed`)
  t.same(JSON.parse(line).config, { dbPassword: '[REDACTED]', poolSize: '[REDACTED]', account: '[REDACTED]' }, 'serialised, the secret fields are redacted')
  t.equal(configOf(app).poolSize, 987654, 'read, they are the values')
})

t.test('every bad key in one FST_PYWATT_CONFIG naming its source and what was expected, never a value; exit 2', async (t) => {
  const { orch, app, log } = setup(t)
  setEnv(t, { CFG_T4_MODE: 'staging' })
  orch.serveSecrets({ CFG_T4_TOKEN: 'tooshort-secret' })
  orch.init({ env: { CFG_T4_PORT: 'eighty' } })
  const err = await app.register(pywatt, {
    io: orch.io,
    secretTimeout: 200,
    config: Type.Object({
      cfgT4Port: Type.Integer(),
      cfgT4Mode: Type.Union([Type.Literal('dev'), Type.Literal('prod')]),
      cfgT4Missing: Type.String(),
      token: Type.String({ secret: 'CFG_T4_TOKEN', minLength: 32 }),
      never: Type.String({ secret: 'CFG_T4_NEVER' }),
      fine: Type.Boolean({ default: false })
    })
  }).then(() => undefined, (e: Error & { code: string, problems: ConfigProblem[] }) => e)
  t.equal(err?.code, 'FST_PYWATT_CONFIG')
  t.same(orch.exits, [EXIT.REFUSED])
  t.same(err?.problems, [
    { key: 'cfgT4Port', source: 'init.env CFG_T4_PORT', reason: 'invalid', expected: 'an integer' },
    { key: 'cfgT4Mode', source: 'environment CFG_T4_MODE', reason: 'invalid', expected: "one of 'dev', 'prod'" },
    { key: 'cfgT4Missing', source: 'init.env or environment CFG_T4_MISSING', reason: 'not set', expected: 'a string' },
    { key: 'token', source: 'secret CFG_T4_TOKEN', reason: 'invalid', expected: 'a string (Expected string length greater or equal to 32)' },
    { key: 'never', source: 'secret CFG_T4_NEVER', reason: "unavailable (Timed out waiting for secret 'CFG_T4_NEVER' after 200 ms)", expected: 'a string' }
  ])
  t.match(err?.message, /^Invalid module configuration: 5 problems: cfgT4Port from init\.env CFG_T4_PORT: invalid, expected an integer; cfgT4Mode from/)
  t.notMatch(err?.message, /eighty|staging|tooshort-secret/, 'no value is quoted')
  const fatal = log.entries().find((e) => e.level === 60)
  t.equal(fatal?.msg, 'refusing to start: the configuration is invalid')
  t.equal(fatal?.err?.code, 'FST_PYWATT_CONFIG')
  t.notOk(log.lines.some((l) => l.includes('tooshort-secret')), 'the secret is not in the logs')
})

t.test('an invalid default is reported as the default\'s problem', async (t) => {
  const { orch, app } = setup(t)
  orch.init()
  await t.rejects(async () => { await app.register(pywatt, { io: orch.io, config: Type.Object({ cfgT5Workers: Type.Integer({ minimum: 1, default: 0 }) }) }) },
    { code: 'FST_PYWATT_CONFIG', problems: [{ key: 'cfgT5Workers', source: 'default', reason: 'invalid', expected: 'an integer (Expected integer to be greater or equal to 1)' }] })
})

t.test('rotation: the config object takes the new value and subscribers are told which keys changed; a value that does not fit keeps the old one', async (t) => {
  const { orch, app, log } = setup(t)
  const values: Record<string, string> = { CFG_T6_KEY: 'first-api-key-value' }
  orch.serveSecrets(values)
  orch.init()
  await app.register(pywatt, {
    io: orch.io,
    config: Type.Object({
      apiKey: Type.String({ secret: 'CFG_T6_KEY', minLength: 8 }),
      sameKeyAgain: configSecret(Type.String(), 'CFG_T6_KEY'),
      plain: Type.String({ env: 'CFG_T6_PLAIN', default: 'p' })
    })
  })
  const held = configOf(app)
  const changes: ConfigChange[] = []
  const stop = app.pywatt.onConfigChange((change) => { changes.push(change) })
  app.pywatt.onConfigChange(() => { throw new Error('a subscriber that fails') })

  values.CFG_T6_KEY = 'second-api-key-value'
  orch.send({ op: 'rotated', keys: ['CFG_T6_KEY'], rotation_id: 'rot-1' })
  await until(() => changes.length === 1)
  t.same(changes, [{ keys: ['apiKey', 'sameKeyAgain'], rotationId: 'rot-1' }])
  t.equal(held.apiKey, 'second-api-key-value', 'a reference taken before sees the new value')
  t.equal(held.sameKeyAgain, 'second-api-key-value')
  await until(() => log.entries().some((e) => e.msg === 'a configuration change listener failed'))
  app.log.info('the key is now second-api-key-value')
  t.notMatch(log.lines.at(-1), 'second-api-key-value', 'the new value is scrubbed')

  values.CFG_T6_KEY = 'short'
  orch.send({ op: 'rotated', keys: ['CFG_T6_KEY'], rotation_id: 'rot-2' })
  await until(() => log.entries().some((e) => e.msg?.startsWith('the rotated secret does not fit the configuration')))
  const refused = log.entries().find((e) => e.msg?.startsWith('the rotated secret does not fit'))
  t.match(refused, { key: 'apiKey', secret: 'CFG_T6_KEY', rotationId: 'rot-2', expected: /length greater or equal to 8/ })
  t.equal(held.apiKey, 'second-api-key-value', 'the previous value stays')
  t.equal(held.sameKeyAgain, 'second-api-key-value', 'all the fields of that secret, or none')
  t.equal(changes.length, 1, 'nobody is told of a change that did not happen')

  stop()
  values.CFG_T6_KEY = 'third-api-key-value'
  orch.send({ op: 'rotated', keys: ['CFG_T6_KEY'], rotation_id: 'rot-3' })
  await until(() => held.apiKey === 'third-api-key-value')
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(changes.length, 1, 'an unsubscribed listener is not told')
})

t.test('standalone: plain fields from the environment, secret fields from the environment as the secret store reads them', async (t) => {
  setEnv(t, { PORT: '0', CFG_T7_NAME: 'standalone-name', CFG_T7_SECRET: 'standalone-secret-value' })
  const log = captureLogger()
  const app = Fastify({ loggerInstance: log.logger })
  t.after(() => app.close())
  await app.register(pywatt, {
    io: new FakeOrchestrator().io,
    standalone: true,
    config: Type.Object({
      cfgT7Name: Type.String(),
      token: Type.String({ secret: 'CFG_T7_SECRET' }),
      optionalToken: Type.Optional(Type.String({ secret: 'CFG_T7_UNSET_SECRET' })),
      defaultedToken: Type.String({ secret: 'CFG_T7_UNSET_TOO', default: 'dev-token' })
    })
  })
  t.same({ ...app.pywatt.config }, { cfgT7Name: 'standalone-name', token: 'standalone-secret-value', defaultedToken: 'dev-token' },
    'a secret that is not set standalone takes the default, or leaves an optional field out')
  app.log.info('standalone-secret-value')
  t.notMatch(log.lines.at(-1), 'standalone-secret-value')

  const strict = Fastify()
  t.after(() => strict.close())
  await t.rejects(async () => { await strict.register(pywatt, { io: new FakeOrchestrator().io, standalone: true, config: Type.Object({ s: Type.String({ secret: 'CFG_T7_ABSENT' }) }) }) },
    { code: 'FST_PYWATT_CONFIG', problems: [{ key: 's', source: 'secret CFG_T7_ABSENT', reason: 'not set', expected: 'a string' }] })
  const initEnv = Fastify()
  t.after(() => initEnv.close())
  await t.rejects(async () => { await initEnv.register(pywatt, { io: new FakeOrchestrator().io, standalone: true, config: Type.Object({ cfgT7Missing: Type.String() }) }) },
    { code: 'FST_PYWATT_CONFIG', problems: [{ source: 'environment CFG_T7_MISSING', reason: 'not set' }] }, 'standalone names only the environment')
})

t.test('a bad config schema is FST_PYWATT_INVALID_OPTIONS before the handshake', async (t) => {
  const orch = new FakeOrchestrator()
  const app = Fastify()
  t.after(() => app.close())
  await t.rejects(async () => { await app.register(pywatt, { io: orch.io, config: Type.String() as never }) }, { code: 'FST_PYWATT_INVALID_OPTIONS', message: /config: must be a TypeBox object schema/ })
  t.same(orch.lines, [])
})
