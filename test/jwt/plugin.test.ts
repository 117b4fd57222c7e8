import { generateKeyPairSync } from 'node:crypto'
import Fastify from 'fastify'
import t from 'tap'
import pywatt from '../../plugins/index.js'
import jwt, { JWT_REASONS } from '../../plugins/jwt.js'
import { FakeOrchestrator, until } from '../helpers/fake-orchestrator.js'
import { captureLogger } from '../helpers/log-capture.js'
import { boot, bearer, claims, hsToken, nowSec, pkToken, rsaPair, SECRET, withJwt } from './helpers.js'

const HS = { alg: 'HS256', typ: 'JWT' }
const NEW_SECRET = 'the-second-jwt-secret-fedcba9876543210'

const reasons = (lines: string[]): unknown[] => lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.msg === 'jwt rejected').map((e) => e.reason)

t.test('the key comes from the orchestrator secret JWT_SECRET, as its UTF-8 bytes', async (t) => {
  const unicode = 'clé-secrète-ünï€😀-0123456789'
  const { app, orch } = await boot(t, {}, { JWT_SECRET: unicode })
  t.same(orch.ops('get_secret').map((l) => l.name), ['JWT_SECRET'])
  const res = await app.inject({ url: '/protected', headers: bearer(hsToken(HS, claims(), Buffer.from(unicode, 'utf8'))) })
  t.equal(res.statusCode, 200)
  t.same(res.json().user.sub, 'user-1')
})

t.test('a configurable secret name and HS512', async (t) => {
  const { app, orch } = await boot(t, { secret: 'AUTH_KEY', algorithms: ['HS512'] }, { AUTH_KEY: SECRET })
  t.same(orch.ops('get_secret').map((l) => l.name), ['AUTH_KEY'])
  t.equal((await app.inject({ url: '/protected', headers: bearer(hsToken({ alg: 'HS512' }, claims(), SECRET)) })).statusCode, 200)
  t.equal((await app.inject({ url: '/protected', headers: bearer(hsToken(HS, claims(), SECRET)) })).statusCode, 401)
  const minted = app.pywatt.jwt!.sign({ sub: 'u' })
  t.equal(JSON.parse(Buffer.from(minted.split('.')[0] as string, 'base64url').toString()).alg, 'HS512')
})

t.test('sign: returns a string, adds iat/exp/kid; reply.jwtSign and request.jwtVerify share the keys', async (t) => {
  const { app, calls } = await boot(t, { expiresIn: 60_000 })
  const token = app.pywatt.jwt!.sign({ sub: 'user-2', role: 'admin' })
  t.type(token, 'string')
  const [h, p] = token.split('.').slice(0, 2).map((s) => JSON.parse(Buffer.from(s, 'base64url').toString()) as Record<string, unknown>) as [Record<string, unknown>, Record<string, unknown>]
  t.same(h, { alg: 'HS256', typ: 'JWT', kid: app.pywatt.jwt!.keys().current[0] })
  t.equal(p.exp, (p.iat as number) + 60)
  t.equal(app.pywatt.jwt!.sign({ sub: 'x' }, { expiresIn: 5_000 }).length > 0, true)
  const custom = app.pywatt.jwt!.sign({ sub: 'x', iat: 100, exp: nowSec() + 10 })
  t.equal(JSON.parse(Buffer.from(custom.split('.')[1] as string, 'base64url').toString()).iat, 100)
  t.same(app.pywatt.jwt!.verify(token).role, 'admin')
  t.throws(() => app.pywatt.jwt!.verify('nope'), { code: 'FST_PYWATT_JWT_UNAUTHORIZED', reason: JWT_REASONS.MALFORMED })
  t.throws(() => app.pywatt.jwt!.sign([] as never), { code: 'FST_PYWATT_JWT_SIGN' })
  t.throws(() => app.pywatt.jwt!.sign(null as never), { code: 'FST_PYWATT_JWT_SIGN' })

  const minted = await app.inject({ method: 'POST', url: '/mint', payload: { sub: 'from-reply' } })
  t.equal(minted.statusCode, 200)
  const replyToken = minted.json().token as string
  t.type(replyToken, 'string')
  for (const url of ['/protected', '/manual', '/via-jwt-verify']) {
    t.equal((await app.inject({ url, headers: bearer(replyToken) })).statusCode, 200, `reply.jwtSign token on ${url}`)
    t.equal((await app.inject({ url, headers: bearer(token) })).statusCode, 200, `sign token on ${url}`)
  }
  t.equal(calls.viaJwtVerify, 2)
  const unknownKid = await app.inject({ url: '/via-jwt-verify', headers: bearer(hsToken({ ...HS, kid: 'nope' }, claims(), '')) })
  t.equal(unknownKid.statusCode, 401, 'request.jwtVerify: an unknown kid is 401, not 500')
  const kidNumber = await app.inject({ url: '/via-jwt-verify', headers: bearer(hsToken({ ...HS, kid: 5 }, claims(), SECRET)) })
  t.equal(kidNumber.statusCode, 401)
  t.equal(calls.viaJwtVerify, 2)
})

t.test('@fastify/jwt, set up on first use: its decorators are there from registration, fastify.jwt and request.jwtDecode work', async (t) => {
  const { app } = await withJwt(t)
  t.ok(app.hasDecorator('jwt'))
  t.ok(app.hasRequestDecorator('user') && app.hasRequestDecorator('jwtVerify') && app.hasRequestDecorator('jwtDecode'))
  t.ok(app.hasReplyDecorator('jwtSign'))
  app.get('/decode', async (req) => await req.jwtDecode())
  await app.ready()
  const token = app.pywatt.jwt!.sign({ sub: 'user-3' })
  const decoded = (await app.inject({ url: '/decode', headers: bearer(token) })).json()
  t.equal(decoded.payload.sub, 'user-3')
  t.equal(decoded.header.kid, app.pywatt.jwt!.keys().current[0])
  t.equal(app.jwt.decode<{ payload: { sub: string } }>(token)?.payload.sub, 'user-3')
  t.equal(app.jwt, app.jwt, 'set up once')
})

t.test('rotation: new key at once, old key during the overlap window, then refused', async (t) => {
  const overlap = 600
  const { app, orch, values, log } = await boot(t, { rotationOverlap: overlap })
  const api = app.pywatt.jwt!
  const oldKid = api.keys().current[0]
  const oldSigned = api.sign({ sub: 'old' })
  const oldNoKid = hsToken(HS, claims(), SECRET)
  values.JWT_SECRET = NEW_SECRET
  orch.send({ op: 'rotated', keys: ['JWT_SECRET'], rotation_id: 'rot-1' })
  await until(() => api.keys().current[0] !== oldKid)
  const rotatedAt = Date.now()
  t.same(api.keys().previous, [oldKid])
  const newSigned = api.sign({ sub: 'new' })
  const newNoKid = hsToken(HS, claims(), NEW_SECRET)
  for (const token of [newSigned, newNoKid, oldSigned, oldNoKid]) {
    t.equal((await app.inject({ url: '/protected', headers: bearer(token) })).statusCode, 200, 'accepted inside the window')
  }
  t.ok(Date.now() - rotatedAt < overlap, 'still inside the window')
  t.ok(log.entries().some((e) => e.msg?.startsWith('jwt key rotated') && e.rotationId === 'rot-1'))
  await new Promise((resolve) => setTimeout(resolve, overlap + 50))
  t.same(api.keys(), { current: [api.keys().current[0]], previous: [] }, 'the old key is retired')
  const from = log.lines.length
  t.equal((await app.inject({ url: '/protected', headers: bearer(oldSigned) })).statusCode, 401)
  t.equal((await app.inject({ url: '/protected', headers: bearer(oldNoKid) })).statusCode, 401)
  t.same(reasons(log.lines.slice(from)), [JWT_REASONS.UNKNOWN_KID, JWT_REASONS.SIGNATURE])
  t.equal((await app.inject({ url: '/via-jwt-verify', headers: bearer(oldSigned) })).statusCode, 401, 'request.jwtVerify refuses the retired kid too')
  for (const token of [newSigned, newNoKid]) {
    t.equal((await app.inject({ url: '/protected', headers: bearer(token) })).statusCode, 200, 'new key still accepted')
  }

  // An unusable rotated value is logged and the current key stays.
  const current = api.keys().current[0]
  values.JWT_SECRET = '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----'
  orch.send({ op: 'rotated', keys: ['JWT_SECRET'], rotation_id: 'rot-2' })
  await until(() => log.entries().some((e) => e.msg?.startsWith('the rotated jwt key is unusable')))
  t.equal(api.keys().current[0], current)
  t.equal((await app.inject({ url: '/protected', headers: bearer(newSigned) })).statusCode, 200)
})

t.test('rotation with a zero overlap retires the old key at once', async (t) => {
  const { app, orch, values } = await boot(t, { rotationOverlap: 0 })
  const api = app.pywatt.jwt!
  const old = api.sign({ sub: 'old' })
  values.JWT_SECRET = NEW_SECRET
  orch.send({ op: 'rotated', keys: ['JWT_SECRET'], rotation_id: 'rot-0' })
  await until(() => api.keys().previous.length === 0 && api.verify(api.sign({})) !== undefined && (() => { try { api.verify(old); return false } catch { return true } })())
  t.equal((await app.inject({ url: '/protected', headers: bearer(old) })).statusCode, 401)
})

t.test('options are checked at registration', async (t) => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ nope: 1 }, /jwt nope/],
    [{ algorithms: ['none'] }, /algorithms/],
    [{ algorithms: [] }, /algorithms/],
    [{ algorithms: ['HS256', 'RS256'] }, /cannot be mixed/],
    [{ key: 'x' }, /fixed key/],
    [{ clockTolerance: -1 }, /clockTolerance/]
  ]
  for (const [opts, message] of cases) {
    await t.rejects(boot(t, opts as never), { code: 'FST_PYWATT_INVALID_OPTIONS', message })
  }
})

t.test('public keys: JWK, JWK set with kids, EdDSA, PS256; verify-only', async (t) => {
  const a = rsaPair()
  const b = rsaPair()
  const jwks = JSON.stringify({ keys: [{ ...a.publicJwk, kid: 'a' }, { ...b.publicJwk, kid: 'b' }] })
  const { app } = await boot(t, { algorithms: ['RS256', 'PS256'], secret: 'JWKS' }, { JWKS: jwks })
  t.same(app.pywatt.jwt!.keys().current, ['a', 'b'])
  t.equal((await app.inject({ url: '/protected', headers: bearer(pkToken({ alg: 'RS256', kid: 'b' }, claims(), b.privateKey)) })).statusCode, 200)
  t.equal((await app.inject({ url: '/protected', headers: bearer(pkToken({ alg: 'RS256' }, claims(), b.privateKey)) })).statusCode, 200, 'no kid: each key is tried')
  t.equal((await app.inject({ url: '/protected', headers: bearer(pkToken({ alg: 'RS256', kid: 'a' }, claims(), b.privateKey)) })).statusCode, 401, 'the kid picks the key')
  t.equal((await app.inject({ url: '/via-jwt-verify', headers: bearer(pkToken({ alg: 'RS256', kid: 'a' }, claims(), a.privateKey)) })).statusCode, 200)
  t.throws(() => app.pywatt.jwt!.sign({ sub: 'x' }), { code: 'FST_PYWATT_JWT_SIGN' })
  t.equal((await app.inject({ method: 'POST', url: '/mint', payload: { sub: 'x' } })).statusCode, 500, 'reply.jwtSign: verify-only')

  const single = await boot(t, { algorithms: ['RS256'], key: JSON.stringify({ ...a.publicJwk, kid: 'only' }) })
  t.same(single.app.pywatt.jwt!.keys().current, ['only'])
  const noKid = await boot(t, { algorithms: ['RS256'], key: JSON.stringify(a.publicJwk) })
  t.equal(noKid.app.pywatt.jwt!.keys().current[0]?.length, 16, 'a thumbprint kid')

  const ed = generateKeyPairSync('ed25519')
  const edApp = await boot(t, { algorithms: ['EdDSA'], key: ed.publicKey.export({ type: 'spki', format: 'pem' }) as string })
  const { sign } = await import('node:crypto')
  const input = `${Buffer.from(JSON.stringify({ alg: 'EdDSA' })).toString('base64url')}.${Buffer.from(JSON.stringify(claims())).toString('base64url')}`
  const edToken = `${input}.${sign(null, Buffer.from(input), ed.privateKey).toString('base64url')}`
  t.equal((await edApp.app.inject({ url: '/protected', headers: bearer(edToken) })).statusCode, 200)

  const pss = generateKeyPairSync('rsa-pss', { modulusLength: 2048 })
  const pssPem = pss.publicKey.export({ type: 'spki', format: 'pem' }) as string
  await t.rejects(boot(t, { algorithms: ['PS256'], key: pssPem }), { code: 'FST_PYWATT_JWT_KEY' }, 'RSA-PSS-only keys are not supported by fast-jwt')
  const ps = await boot(t, { algorithms: ['PS256'], key: a.publicPem })
  const { sign: s2, constants } = await import('node:crypto')
  const psInput = `${Buffer.from(JSON.stringify({ alg: 'PS256' })).toString('base64url')}.${Buffer.from(JSON.stringify(claims())).toString('base64url')}`
  const psSig = s2('sha256', Buffer.from(psInput), { key: a.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 })
  t.equal((await ps.app.inject({ url: '/protected', headers: bearer(`${psInput}.${psSig.toString('base64url')}`) })).statusCode, 200, 'PS256 with a plain RSA key')
})

t.test('unusable public keys are refused with FST_PYWATT_JWT_KEY', async (t) => {
  const a = rsaPair()
  const x = generateKeyPairSync('x25519')
  const bad = [
    '{"keys":[]}',
    JSON.stringify({ keys: [{ ...a.publicJwk }] }),
    JSON.stringify({ keys: [null] }),
    JSON.stringify({ keys: [{ ...a.publicJwk, kid: 'k' }, { ...a.publicJwk, kid: 'k' }] }),
    JSON.stringify({ ...a.publicJwk, d: 'x' }),
    JSON.stringify({ kty: 'RSA', n: 1 }),
    '{not json',
    '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----',
    a.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    x.publicKey.export({ type: 'spki', format: 'pem' }) as string,
    rsaPair().publicPem.replace('PUBLIC', 'PUBLIK')
  ]
  for (const key of bad) {
    await t.rejects(boot(t, { algorithms: ['RS256'], key }), { code: 'FST_PYWATT_JWT_KEY' })
  }
  await t.rejects(boot(t, { algorithms: ['ES256'], key: a.publicPem }), { code: 'FST_PYWATT_JWT_KEY' }, 'an RSA key for ES256')
})

t.test('route config: the hook goes first, before the route\'s own onRequest hooks', async (t) => {
  const { app } = await withJwt(t)
  const seen: string[] = []
  app.get('/one', { config: { pywatt: { auth: 'jwt' } }, onRequest: async () => { seen.push('one') } }, async () => 'x')
  app.get('/two', { config: { pywatt: { auth: 'jwt' } }, onRequest: [async () => { seen.push('two') }] }, async () => 'x')
  await app.ready()
  t.equal((await app.inject({ url: '/one' })).statusCode, 401)
  t.equal((await app.inject({ url: '/two' })).statusCode, 401)
  t.same(seen, [])
  const token = app.pywatt.jwt!.sign({})
  t.equal((await app.inject({ url: '/one', headers: bearer(token) })).statusCode, 200)
  t.equal((await app.inject({ url: '/two', headers: bearer(token) })).statusCode, 200)
  t.same(seen, ['one', 'two'])
})

t.test('a route marked auth: jwt declared before the plugin fails the start (fail closed)', async (t) => {
  const orch = new FakeOrchestrator()
  orch.serveSecrets({ JWT_SECRET: SECRET })
  const app = Fastify({ loggerInstance: captureLogger().logger })
  t.after(() => app.close())
  orch.init()
  await app.register(pywatt, { io: orch.io })
  app.get('/early', { config: { pywatt: { auth: 'jwt' } } }, async () => 'x')
  app.get('/early-open', async () => 'x')
  await app.register(jwt)
  await t.rejects(async () => { await app.ready() }, { code: 'FST_PYWATT_JWT_UNPROTECTED', message: /GET \/early/ })
})

t.test('a missing key secret refuses the registration', async (t) => {
  const orch = new FakeOrchestrator()
  const app = Fastify()
  t.after(() => app.close())
  orch.init()
  await app.register(pywatt, { io: orch.io, secretTimeout: 100 })
  await t.rejects(async () => { await app.register(jwt) }, { code: 'FST_PYWATT_SECRET_TIMEOUT' })
})

t.test('request.jwtVerify(options) is @fastify/jwt\'s verification, followed by the iat and payload checks fast-jwt does not make', async (t) => {
  const log = captureLogger()
  const { app } = await withJwt(t, {}, { JWT_SECRET: SECRET }, log.logger)
  app.get('/options', async (req, reply) => {
    try {
      const user = await req.jwtVerify({})
      return { user, seen: req.user }
    } catch (err) {
      return await reply.code((err as { statusCode?: number }).statusCode ?? 500).send({ code: (err as { code?: string }).code, seen: req.user })
    }
  })
  app.get('/complete', (req, reply) => {
    req.jwtVerify({ complete: true }, (err, decoded) => {
      if (err !== null) reply.code(401).send({ code: (err as { code?: string }).code })
      else reply.send({ payload: (decoded as unknown as { payload: { sub: string } }).payload.sub })
    })
  })
  await app.ready()
  const ok = await app.inject({ url: '/options', headers: bearer(hsToken(HS, claims(), SECRET)) })
  t.equal(ok.statusCode, 200)
  t.equal(ok.json().user.sub, 'user-1')
  const future = await app.inject({ url: '/options', headers: bearer(hsToken(HS, claims({ iat: nowSec() + 3600 }), SECRET)) })
  t.same(future.json(), { code: 'FST_PYWATT_JWT_UNAUTHORIZED', seen: null }, 'an iat an hour ahead: 401, and request.user not left set')
  t.equal(future.statusCode, 401)
  const yesterday = await app.inject({ url: '/options', headers: bearer(hsToken(HS, claims({ iat: 'yesterday' }), SECRET)) })
  t.equal(yesterday.statusCode, 401)
  t.same(await app.inject({ url: '/complete', headers: bearer(hsToken(HS, claims(), SECRET)) }).then((r) => r.json()), { payload: 'user-1' }, '{ complete: true } hands back header and payload')
  t.equal((await app.inject({ url: '/complete', headers: bearer(hsToken(HS, claims({ iat: nowSec() + 3600 }), SECRET)) })).statusCode, 401, 'its payload is checked')
  t.same(reasons(log.lines), [JWT_REASONS.INACTIVE, JWT_REASONS.CLAIMS, JWT_REASONS.INACTIVE])
})
