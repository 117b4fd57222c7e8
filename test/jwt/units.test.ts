import t from 'tap'
import { KeyRing, VERIFIED_CACHE_SIZE, VERIFIED_CACHE_TTL, type RingEntry } from '../../lib/auth/key-ring.js'
import { hmacKid, parseKeyMaterial } from '../../lib/auth/keys.js'
import { resolveJwtOptions } from '../../lib/auth/options.js'
import { bearerToken, JWT_REASONS, JwtRejection, reasonOf, verifyToken } from '../../lib/auth/verify.js'
import { claims, hsToken, SECRET } from './helpers.js'

const checks = { clockTolerance: 0, requiredClaims: ['exp'] }
const policy = { maxTokenLength: 8192, clockTolerance: 0, algorithms: ['HS256'] }

t.test('key ring: overlap window by the clock, sweeps, kid index, signer cache', async (t) => {
  let now = 1_000_000
  const ring = new KeyRing(checks, () => now)
  t.equal(ring.ready, false)
  t.same(ring.candidates(), [])
  t.equal(ring.signer(() => () => 'x'), null, 'no signer without a key')
  const first = ring.prepare(parseKeyMaterial('key-one-0123456789', ['HS256']))
  ring.install(first, 0)
  const kid1 = hmacKid('key-one-0123456789')
  t.same(ring.kids(), { current: [kid1], previous: [] })
  let made = 0
  const make = (): (() => string) => { made++; return () => 'signed' }
  t.equal(ring.signer(make)?.kid, kid1)
  ring.signer(make)
  t.equal(made, 1, 'the signer is kept until the next rotation')

  ring.install(ring.prepare(parseKeyMaterial('key-two-0123456789', ['HS256'])), 1000)
  const kid2 = hmacKid('key-two-0123456789')
  t.same(ring.kids(), { current: [kid2], previous: [kid1] })
  t.equal(ring.signer(make)?.kid, kid2)
  t.equal(made, 2)
  t.equal(ring.byKid(kid1)?.kid, kid1, 'inside the window')
  t.equal(ring.candidates().length, 2)
  now += 1000
  t.equal(ring.byKid(kid1), undefined, 'at retireAt the key is gone, even before the timer runs')
  t.equal(ring.byKid('unknown'), undefined)
  ring.install(ring.prepare(parseKeyMaterial('key-three-0123456789', ['HS256'])), 1000)
  now += 500
  ring.install(ring.prepare(parseKeyMaterial('key-four-0123456789', ['HS256'])), 1000)
  t.equal(ring.kids().previous.length, 2)
  now += 600
  t.equal(ring.candidates().length, 2, 'a retired key is swept when candidates are listed')
  ring.install(ring.prepare(parseKeyMaterial('key-four-0123456789', ['HS256'])), 1000)
  t.equal(ring.kids().current.length, 1, 'the same key again stays current')
  ring.close()
  t.equal(ring.ready, false)
  ring.close()
})

t.test('key ring: the retirement timer drops keys on its own', async (t) => {
  const ring = new KeyRing(checks)
  ring.install(ring.prepare(parseKeyMaterial('key-one-0123456789', ['HS256'])), 0)
  ring.install(ring.prepare(parseKeyMaterial('key-two-0123456789', ['HS256'])), 30)
  t.equal(ring.kids().previous.length, 1)
  await new Promise((resolve) => setTimeout(resolve, 80))
  t.equal((ring as unknown as { candidates: () => RingEntry[] }).candidates().length, 1)
  ring.close()
})

t.test('key ring: a key fast-jwt refuses is FST_PYWATT_JWT_KEY', async (t) => {
  const ring = new KeyRing(checks)
  t.throws(() => ring.prepare([{ kid: 'k', family: 'hmac', key: '', algorithms: ['HS256'] }]), { code: 'FST_PYWATT_JWT_KEY' })
})

t.test('verifyToken: defensive paths', async (t) => {
  const ring = new KeyRing(checks)
  const token = hsToken({ alg: 'HS256' }, claims(), SECRET)
  t.throws(() => verifyToken(ring, token, policy), { name: 'JwtRejection', reason: JWT_REASONS.NO_KEY })
  const fake = (result: unknown): KeyRing => ({
    ready: true,
    byKid: () => undefined,
    recall: () => undefined,
    remember: () => {},
    candidates: () => [{ verify: () => result }]
  }) as unknown as KeyRing
  t.throws(() => verifyToken(fake([1]), token, policy), { name: 'JwtRejection', reason: JWT_REASONS.MALFORMED }, 'an array payload is refused even if a verifier let it through')
  t.throws(() => verifyToken(fake(null), token, policy), { name: 'JwtRejection', reason: JWT_REASONS.MALFORMED })
  const none = { ready: true, byKid: () => undefined, recall: () => undefined, candidates: () => [] } as unknown as KeyRing
  t.throws(() => verifyToken(none, token, policy), { name: 'JwtRejection', reason: JWT_REASONS.NO_KEY })
  const within = { ...policy, clockTolerance: 5000, now: () => Date.now() }
  t.ok(verifyToken(fake({ iat: Math.floor(Date.now() / 1000) + 2 }), token, within), 'iat inside the tolerance')
})

t.test('reasonOf and bearerToken', async (t) => {
  const r = new JwtRejection(JWT_REASONS.EXPIRED, 'x')
  t.equal(reasonOf(r), r)
  t.equal(reasonOf('boom').reason, JWT_REASONS.SIGNATURE)
  t.equal(reasonOf('boom').message, 'boom')
  t.equal(reasonOf({ code: 'FAST_JWT_EXPIRED', message: 'm' }).reason, JWT_REASONS.EXPIRED)
  t.equal(reasonOf({ code: 42 }).reason, JWT_REASONS.SIGNATURE)
  t.equal(bearerToken('bearer  abc ', 100), 'abc', 'the scheme is case-insensitive')
  t.throws(() => bearerToken('', 100), { name: 'JwtRejection', reason: JWT_REASONS.MISSING })
  t.throws(() => bearerToken(`Bearer ${'a'.repeat(200)}`, 100), { name: 'JwtRejection', reason: JWT_REASONS.TOO_LARGE })
  t.throws(() => bearerToken('Bearer', 100), { name: 'JwtRejection', reason: JWT_REASONS.MISSING })
})

t.test('options: defaults and the error path', async (t) => {
  const o = resolveJwtOptions({})
  t.same(o.algorithms, ['HS256'])
  t.same(o.requiredClaims, ['exp'])
  t.equal(o.secret, 'JWT_SECRET')
  t.equal(o.clockTolerance, 500)
  t.equal(o.rotationOverlap, 300_000)
  t.same(resolveJwtOptions({ requireExp: false, requiredClaims: ['sub'] }).requiredClaims, ['sub'])
  t.same(resolveJwtOptions({ algorithms: ['HS256', 'HS256'] }).algorithms, ['HS256'])
  t.throws(() => resolveJwtOptions(null), { code: 'FST_PYWATT_INVALID_OPTIONS', message: /jwt options/ })
})

t.test('verified tokens: recalled with a fresh object, only inside their window, only while their key lives', async (t) => {
  let now = Date.now()
  const clock = (): number => now
  const ring = new KeyRing({ clockTolerance: 1000, requiredClaims: ['exp'], maxAge: 3_600_000 }, clock)
  const p = { ...policy, clockTolerance: 1000, maxAge: 3_600_000, now: clock }
  ring.install(ring.prepare(parseKeyMaterial(SECRET, ['HS256'])), 500)
  const sec = Math.floor(now / 1000)
  const token = hsToken({ alg: 'HS256' }, { sub: 'u', roles: ['reader'], iat: sec, nbf: sec - 1, exp: sec + 30 }, SECRET)
  const first = verifyToken(ring, token, p)
  t.equal(ring.recall(token, now)?.sub, 'u', 'remembered')
  ;(first.roles as string[]).push('admin')
  const second = verifyToken(ring, token, p)
  t.not(second, first)
  t.same(second.roles, ['reader'], 'a handler changing request.user changes nothing for later requests')
  now += 31_000
  t.equal(ring.recall(token, now), undefined, 'past exp + tolerance: not recalled')
  // (The full check then runs on fast-jwt's own clock, the real one: see the attack table for expiry.)

  // The TTL bounds a token without exp (requireExp: false) too.
  const loose = new KeyRing({ clockTolerance: 0, requiredClaims: [] }, clock)
  loose.install(loose.prepare(parseKeyMaterial(SECRET, ['HS256'])), 0)
  const noExp = hsToken({ alg: 'HS256' }, { sub: 'forever' }, SECRET)
  verifyToken(loose, noExp, { ...policy, now: clock })
  t.ok(loose.recall(noExp, now))
  t.equal(loose.recall(noExp, now + VERIFIED_CACHE_TTL), undefined)

  // A rotation: the old key's tokens are recalled during the overlap, then never.
  const sec2 = Math.floor(now / 1000)
  const old = hsToken({ alg: 'HS256' }, { sub: 'old', exp: sec2 + 600 }, SECRET)
  verifyToken(ring, old, p)
  ring.install(ring.prepare(parseKeyMaterial('another-secret-0123456789', ['HS256'])), 500)
  t.ok(ring.recall(old, now), 'inside the overlap')
  now += 500
  t.equal(ring.recall(old, now), undefined, 'retired at the end of the overlap, even before the sweep')
  t.throws(() => verifyToken(ring, old, p), { name: 'JwtRejection', reason: JWT_REASONS.SIGNATURE })
  ring.close()
})

t.test('verified tokens: a replaced key (same kid, new material) drops them; the cache is bounded', async (t) => {
  const { generateKeyPairSync } = await import('node:crypto')
  const { pkToken } = await import('./helpers.js')
  const a = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const b = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const jwks = (k: typeof a): string => JSON.stringify({ keys: [{ ...k.publicKey.export({ format: 'jwk' }), kid: 'same' }] })
  const ring = new KeyRing(checks)
  const p = { ...policy, algorithms: ['ES256'] }
  ring.install(ring.prepare(parseKeyMaterial(jwks(a), ['ES256'])), 60_000)
  const token = pkToken({ alg: 'ES256', kid: 'same' }, claims(), a.privateKey)
  verifyToken(ring, token, p)
  t.ok(ring.recall(token, Date.now()))
  ring.install(ring.prepare(parseKeyMaterial(jwks(b), ['ES256'])), 60_000)
  t.equal(ring.recall(token, Date.now()), undefined, 'the replaced key took its tokens with it')
  t.throws(() => verifyToken(ring, token, p), { name: 'JwtRejection', reason: JWT_REASONS.SIGNATURE })

  const hs = new KeyRing(checks)
  hs.install(hs.prepare(parseKeyMaterial(SECRET, ['HS256'])), 0)
  const tokens = Array.from({ length: VERIFIED_CACHE_SIZE + 1 }, (_, i) => hsToken({ alg: 'HS256' }, claims({ n: i }), SECRET))
  for (const tok of tokens) verifyToken(hs, tok, policy)
  t.equal(hs.recall(tokens[0] as string, Date.now()), undefined, 'the oldest is forgotten')
  t.ok(hs.recall(tokens[VERIFIED_CACHE_SIZE] as string, Date.now()))
  hs.close()
  ring.close()
})
