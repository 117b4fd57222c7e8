import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { generateKeyPairSync } from 'node:crypto'
import t from 'tap'
import { JWT_REASONS, type PyWattJwtOptions } from '../../plugins/jwt.js'
import { b64url, boot, bearer, claims, hsToken, nowSec, pkToken, rsaPair, SECRET, type Booted } from './helpers.js'

/**
 * docs/reliability.md T15: every attack token is refused with the generic 401, the
 * handler never runs, and the reason (never the token) is logged.
 */

const rsa = rsaPair()
const otherRsa = rsaPair()
const HS = { alg: 'HS256', typ: 'JWT' }
const GENERIC = { statusCode: 401, code: 'FST_PYWATT_JWT_UNAUTHORIZED', error: 'Unauthorized', message: 'Unauthorized' }

type AppName = 'hs' | 'tolerant' | 'claims' | 'rs'
const APPS: Record<AppName, { opts: PyWattJwtOptions, values?: Record<string, string> }> = {
  hs: { opts: {} },
  tolerant: { opts: { clockTolerance: 10_000 } },
  claims: { opts: { issuer: 'wattson', audience: 'module-a', subject: ['user-1', 'user-2'] } },
  rs: { opts: { algorithms: ['RS256'], key: rsa.publicPem } }
}

interface Row {
  name: string
  app: AppName
  /** Built when the row runs: expiry depends on the clock. */
  token: () => string
  /** Expected logged reason; `null` for the control rows that must pass. */
  reason: string | null
  /** The raw Authorization header instead of `Bearer <token>`. */
  header?: (token: string) => string | undefined
}

const rows: Row[] = [
  { name: 'alg none without signature', app: 'hs', token: () => hsToken({ alg: 'none', typ: 'JWT' }, claims(), null), reason: JWT_REASONS.ALGORITHM },
  { name: 'alg none with a signature', app: 'hs', token: () => hsToken({ alg: 'none', typ: 'JWT' }, claims(), SECRET), reason: JWT_REASONS.ALGORITHM },
  { name: 'alg None', app: 'hs', token: () => hsToken({ alg: 'None' }, claims(), null), reason: JWT_REASONS.ALGORITHM },
  { name: 'alg NONE', app: 'hs', token: () => hsToken({ alg: 'NONE' }, claims(), null), reason: JWT_REASONS.ALGORITHM },
  { name: 'no alg at all', app: 'hs', token: () => hsToken({ typ: 'JWT' }, claims(), SECRET), reason: JWT_REASONS.ALGORITHM },
  { name: 'HS384 against an HS256-only config', app: 'hs', token: () => hsToken({ alg: 'HS384' }, claims(), SECRET), reason: JWT_REASONS.ALGORITHM },
  { name: 'HS256 signed with another secret', app: 'hs', token: () => hsToken(HS, claims(), 'not-the-secret'), reason: JWT_REASONS.SIGNATURE },
  { name: 'HS256 signed with the RSA public key PEM', app: 'rs', token: () => hsToken(HS, claims(), rsa.publicPem), reason: JWT_REASONS.ALGORITHM },
  { name: 'HS256 signed with the PEM with leading whitespace', app: 'rs', token: () => hsToken(HS, claims(), `\n  ${rsa.publicPem}`), reason: JWT_REASONS.ALGORITHM },
  { name: 'HS256 signed with the PEM with a non-whitespace prefix', app: 'rs', token: () => hsToken(HS, claims(), `x${rsa.publicPem}`), reason: JWT_REASONS.ALGORITHM },
  { name: 'HS256 signed with the public key as JWK JSON', app: 'rs', token: () => hsToken(HS, claims(), JSON.stringify(rsa.publicJwk)), reason: JWT_REASONS.ALGORITHM },
  { name: 'RS256 with a valid signature from another key', app: 'rs', token: () => pkToken({ alg: 'RS256' }, claims(), otherRsa.privateKey), reason: JWT_REASONS.SIGNATURE },
  { name: 'expired by 1 s', app: 'hs', token: () => hsToken(HS, claims({ exp: nowSec() - 1 }), SECRET), reason: JWT_REASONS.EXPIRED },
  { name: 'expired by 1 h', app: 'hs', token: () => hsToken(HS, claims({ iat: nowSec() - 7200, exp: nowSec() - 3600 }), SECRET), reason: JWT_REASONS.EXPIRED },
  { name: 'nbf in the future', app: 'hs', token: () => hsToken(HS, claims({ nbf: nowSec() + 60 }), SECRET), reason: JWT_REASONS.INACTIVE },
  { name: 'iat in the future', app: 'hs', token: () => hsToken(HS, claims({ iat: nowSec() + 60 }), SECRET), reason: JWT_REASONS.INACTIVE },
  { name: 'iat not a number', app: 'hs', token: () => hsToken(HS, claims({ iat: 'yesterday' }), SECRET), reason: JWT_REASONS.CLAIMS },
  { name: 'exp just outside the tolerance (10 s)', app: 'tolerant', token: () => hsToken(HS, claims({ exp: nowSec() - 12 }), SECRET), reason: JWT_REASONS.EXPIRED },
  { name: 'control: exp just inside the tolerance (10 s)', app: 'tolerant', token: () => hsToken(HS, claims({ exp: nowSec() - 5 }), SECRET), reason: null },
  { name: 'missing exp', app: 'hs', token: () => hsToken(HS, { sub: 'user-1', iat: nowSec() }, SECRET), reason: JWT_REASONS.CLAIMS },
  { name: 'exp not a number', app: 'hs', token: () => hsToken(HS, claims({ exp: 'tomorrow' }), SECRET), reason: JWT_REASONS.CLAIMS },
  { name: 'wrong iss', app: 'claims', token: () => hsToken(HS, claims({ iss: 'evil', aud: 'module-a' }), SECRET), reason: JWT_REASONS.CLAIMS },
  { name: 'wrong aud', app: 'claims', token: () => hsToken(HS, claims({ iss: 'wattson', aud: 'module-b' }), SECRET), reason: JWT_REASONS.CLAIMS },
  { name: 'wrong sub', app: 'claims', token: () => hsToken(HS, claims({ iss: 'wattson', aud: 'module-a', sub: 'root' }), SECRET), reason: JWT_REASONS.CLAIMS },
  { name: 'control: right iss, aud in a list, sub', app: 'claims', token: () => hsToken(HS, claims({ iss: 'wattson', aud: ['other', 'module-a'] }), SECRET), reason: null },
  { name: 'a validly signed JSON-array payload', app: 'hs', token: () => hsToken(HS, [{ exp: nowSec() + 60 }], SECRET), reason: JWT_REASONS.MALFORMED },
  { name: 'a header that is a JSON array', app: 'hs', token: () => hsToken(['HS256'] as never, claims(), SECRET), reason: JWT_REASONS.MALFORMED },
  { name: 'a header that is a JSON string', app: 'hs', token: () => `${b64url('"HS256"')}.${b64url(claims())}.c2ln`, reason: JWT_REASONS.MALFORMED },
  { name: 'a header that is not JSON', app: 'hs', token: () => `${b64url('{alg:HS256')}.${b64url(claims())}.c2ln`, reason: JWT_REASONS.MALFORMED },
  { name: 'a payload that is a JSON number', app: 'hs', token: () => hsToken(HS, 42, SECRET), reason: JWT_REASONS.MALFORMED },
  { name: 'a payload that is null', app: 'hs', token: () => hsToken(HS, null, SECRET), reason: JWT_REASONS.MALFORMED },
  { name: 'a payload that is not JSON', app: 'hs', token: () => hsToken(HS, 'not json {', SECRET), reason: JWT_REASONS.MALFORMED },
  { name: 'a non-base64url character in the header', app: 'hs', token: () => { const [h, p, s] = hsToken(HS, claims(), SECRET).split('.'); return `${h}+.${p}.${s}` }, reason: JWT_REASONS.MALFORMED },
  { name: 'a non-base64url character in the payload', app: 'hs', token: () => { const [h, p, s] = hsToken(HS, claims(), SECRET).split('.'); return `${h}.${p}/.${s}` }, reason: JWT_REASONS.MALFORMED },
  { name: 'a non-base64url character in the signature', app: 'hs', token: () => `${hsToken(HS, claims(), SECRET)}=`, reason: JWT_REASONS.MALFORMED },
  { name: 'two segments', app: 'hs', token: () => hsToken(HS, claims(), SECRET).split('.').slice(0, 2).join('.'), reason: JWT_REASONS.MALFORMED },
  { name: 'four segments', app: 'hs', token: () => `${hsToken(HS, claims(), SECRET)}.abc`, reason: JWT_REASONS.MALFORMED },
  { name: 'an empty signature', app: 'hs', token: () => hsToken(HS, claims(), null), reason: JWT_REASONS.SIGNATURE },
  { name: 'an unknown kid', app: 'hs', token: () => hsToken({ ...HS, kid: 'no-such-key' }, claims(), SECRET), reason: JWT_REASONS.UNKNOWN_KID },
  { name: "an unknown kid signed with '' (a resolver returning '' would accept it)", app: 'hs', token: () => hsToken({ ...HS, kid: 'missing' }, claims(), ''), reason: JWT_REASONS.UNKNOWN_KID },
  { name: 'a kid that is not a string', app: 'hs', token: () => hsToken({ ...HS, kid: 7 }, claims(), SECRET), reason: JWT_REASONS.MALFORMED },
  { name: 'a crit header with an unknown extension', app: 'hs', token: () => hsToken({ ...HS, crit: ['x-must-know'], 'x-must-know': true }, claims(), SECRET), reason: JWT_REASONS.MALFORMED },
  { name: 'a 1 MB token', app: 'hs', token: () => hsToken(HS, claims({ pad: 'x'.repeat(1 << 20) }), SECRET), reason: JWT_REASONS.TOO_LARGE },
  { name: 'no Authorization header', app: 'hs', token: () => '', header: () => undefined, reason: JWT_REASONS.MISSING },
  { name: 'a Basic Authorization header', app: 'hs', token: () => 'dXNlcjpwYXNz', header: (tok) => `Basic ${tok}`, reason: JWT_REASONS.MISSING },
  { name: 'Bearer with two tokens', app: 'hs', token: () => hsToken(HS, claims(), SECRET), header: (tok) => `Bearer ${tok} ${tok}`, reason: JWT_REASONS.MISSING },
  { name: 'control: a correct HS256 token', app: 'hs', token: () => hsToken(HS, claims(), SECRET), reason: null },
  { name: 'control: a correct RS256 token', app: 'rs', token: () => pkToken({ alg: 'RS256' }, claims(), rsa.privateKey), reason: null }
]

t.test('T15: attack tokens get a generic 401, the handler never runs, the reason is logged', async (t) => {
  const apps = new Map<AppName, Booted>()
  for (const [name, { opts, values }] of Object.entries(APPS) as Array<[AppName, typeof APPS[AppName]]>) {
    apps.set(name, await boot(t, opts, values))
  }
  let attacks = 0
  for (const row of rows) {
    const booted = apps.get(row.app) as Booted
    const before = { ...booted.calls }
    const logFrom = booted.log.lines.length
    const token = row.token()
    const authorization = row.header === undefined ? `Bearer ${token}` : row.header(token)
    for (const url of ['/protected', '/manual']) {
      const res = await booted.app.inject({ url, headers: authorization === undefined ? {} : { authorization } })
      if (row.reason === null) {
        t.equal(res.statusCode, 200, `${row.name} ${url}: accepted`)
        continue
      }
      t.equal(res.statusCode, 401, `${row.name} ${url}: 401`)
      t.same(res.json(), GENERIC, `${row.name}: generic body`)
      t.equal(res.headers['www-authenticate'], 'Bearer')
    }
    if (row.reason === null) {
      t.equal(booted.calls.protected, before.protected + 1)
      t.equal((await booted.app.inject({ url: '/via-jwt-verify', headers: authorization === undefined ? {} : { authorization } })).statusCode, 200, `${row.name} request.jwtVerify(): accepted`)
      continue
    }
    attacks++
    // request.jwtVerify() refuses what the protected routes refuse, with the same 401.
    const direct = await booted.app.inject({ url: '/via-jwt-verify', headers: authorization === undefined ? {} : { authorization } })
    t.equal(direct.statusCode, 401, `${row.name} request.jwtVerify(): 401`)
    t.same(direct.json(), GENERIC, `${row.name} request.jwtVerify(): generic body`)
    t.same(booted.calls, before, `${row.name}: no handler ran`)
    const logged = booted.log.lines.slice(logFrom)
    const reasons = logged.map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.msg === 'jwt rejected').map((e) => e.reason)
    t.same(reasons, [row.reason, row.reason, row.reason], `${row.name}: reason ${row.reason} logged`)
    const sample = token.length > 40 ? token.slice(token.length - 40) : token
    if (sample.length >= 8) t.notOk(logged.some((l) => l.includes(sample)), `${row.name}: the token is not logged`)
  }
  t.ok(attacks >= 40, `${attacks} attack tokens refused`)
  t.equal(apps.get('hs')?.calls.open, 0)
  const open = await (apps.get('hs') as Booted).app.inject({ url: '/open', headers: bearer('garbage') })
  t.equal(open.statusCode, 200, 'unprotected routes ignore the header')
  t.equal((await (apps.get('hs') as Booted).app.inject({ url: '/health' })).statusCode, 200, '/health stays open')
})

t.test('a public key cannot become an HMAC secret: an HS256 config refuses a PEM or JWK secret', async (t) => {
  for (const value of [rsa.publicPem, `\n ${rsa.publicPem}`, JSON.stringify(rsa.publicJwk)]) {
    await t.rejects(boot(t, {}, { JWT_SECRET: value }), { code: 'FST_PYWATT_JWT_KEY' })
  }
  await t.rejects(boot(t, {}, { JWT_SECRET: '' }), { code: 'FST_PYWATT_JWT_KEY' })
})

t.test('the installed fast-jwt is 6.3 or newer (older ones accept forged tokens, docs/reliability.md H19)', async (t) => {
  const require = createRequire(import.meta.url)
  const path = require.resolve('fast-jwt/package.json')
  const { version } = JSON.parse(readFileSync(path, 'utf8')) as { version: string }
  const [major, minor] = version.split('.').map(Number) as [number, number]
  t.ok(major > 6 || (major === 6 && minor >= 3), `fast-jwt ${version} >= 6.3`)
  const jwtPath = createRequire(require.resolve('@fastify/jwt'))
  const used = JSON.parse(readFileSync(jwtPath.resolve('fast-jwt/package.json'), 'utf8')) as { version: string }
  t.equal(used.version, version, '@fastify/jwt uses the same fast-jwt')
})

t.test('an EC key pair: ES256 verifies, the curve must match', async (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const pem = publicKey.export({ type: 'spki', format: 'pem' }) as string
  const { app } = await boot(t, { algorithms: ['ES256'], key: pem })
  const ok = await app.inject({ url: '/protected', headers: bearer(pkToken({ alg: 'ES256' }, claims(), privateKey)) })
  t.equal(ok.statusCode, 200)
  await t.rejects(boot(t, { algorithms: ['ES384'], key: pem }), { code: 'FST_PYWATT_JWT_KEY' })
})
