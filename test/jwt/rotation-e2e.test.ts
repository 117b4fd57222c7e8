import t from 'tap'
import { hmacKid } from '../../lib/auth/keys.js'
import { EXIT } from '../../lib/lifecycle/exit-codes.js'
import { EXAMPLE, startModule } from '../helpers/modules.js'
import { claims, hsToken } from './helpers.js'

const OLD = 'first-jwt-secret-value-0123456789'
const NEW = 'the-rotated-jwt-secret-9876543210'
const OVERLAP = 2000

/**
 * The example module as a child process under the dev orchestrator: JWT_SECRET
 * rotates while requests keep coming.
 */
t.test('JWT key rotation in the running module: overlap window, new key at once, no failed request', async (t) => {
  const { dev, stderr } = await startModule(t, EXAMPLE, {
    secrets: { API_KEY: 'first-api-key-value', JWT_SECRET: OLD },
    extraEnv: { EXAMPLE_JWT_OVERLAP_MS: String(OVERLAP) }
  })
  const endpoints = await dev.announced()
  t.same(endpoints.find((e) => e.path === '/api/me'), { path: '/api/me', methods: ['GET'], auth: 'jwt' }, 'announced as protected')
  const url = `http://${dev.listen}/api/me`
  const get = async (token?: string): Promise<number> => (await fetch(url, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } })).status

  const oldNoKid = hsToken({ alg: 'HS256', typ: 'JWT' }, claims({ sub: 'old' }), OLD)
  const oldKid = hsToken({ alg: 'HS256', typ: 'JWT', kid: hmacKid(OLD) }, claims({ sub: 'old-kid' }), OLD)
  const newNoKid = hsToken({ alg: 'HS256', typ: 'JWT' }, claims({ sub: 'new' }), NEW)
  const newKid = hsToken({ alg: 'HS256', typ: 'JWT', kid: hmacKid(NEW) }, claims({ sub: 'new-kid' }), NEW)
  t.equal(await get(), 401, 'no token: 401')
  t.equal(await get(oldNoKid), 200)
  t.equal(await get(oldKid), 200)
  t.equal(await get(newNoKid), 401, 'not yet the key')
  const health = await fetch(`http://${dev.listen}/health`)
  t.equal(health.status, 200, '/health stays open')

  // Concurrent load across the switch: old token until the new key is in, then the new one.
  let token = oldNoKid
  const load = { running: true }
  const statuses: number[] = []
  const worker = async (): Promise<void> => {
    while (load.running) statuses.push(await get(token))
  }
  const workers = Array.from({ length: 8 }, worker)
  await new Promise((resolve) => setTimeout(resolve, 100))

  const ack = await dev.rotate('JWT_SECRET', NEW)
  t.equal(ack.status, 'success')
  const ackAt = Date.now()
  let newAcceptedAt = 0
  while (Date.now() - ackAt < 1000) {
    if (await get(newNoKid) === 200) { newAcceptedAt = Date.now(); break }
  }
  t.ok(newAcceptedAt > 0, `the new key is accepted ${newAcceptedAt - ackAt} ms after the ack`)
  token = newNoKid
  t.equal(await get(newKid), 200, 'new key, with its kid')
  t.equal(await get(oldNoKid), 200, 'old key inside the window')
  t.equal(await get(oldKid), 200, 'old kid inside the window')
  t.ok(Date.now() - ackAt < OVERLAP, 'those checks ran inside the window')
  await new Promise((resolve) => setTimeout(resolve, 300))
  load.running = false
  await Promise.all(workers)
  t.ok(statuses.length > 50, `${statuses.length} requests under load`)
  t.same(statuses.filter((s) => s !== 200), [], 'no request failed during the switch')

  await new Promise((resolve) => setTimeout(resolve, Math.max(0, ackAt + OVERLAP + 500 - Date.now())))
  t.equal(await get(oldNoKid), 401, 'old key after the window: refused')
  t.equal(await get(oldKid), 401, 'old kid after the window: refused')
  t.equal(await get(newNoKid), 200)
  t.equal(await get(newKid), 200)

  t.same(await dev.shutdown(), { code: EXIT.OK, signal: null })
  const entries = stderr.map((l) => JSON.parse(l) as Record<string, unknown>)
  t.ok(entries.some((e) => e.msg === 'jwt rejected' && e.reason === 'FST_PYWATT_JWT_UNKNOWN_KID'), 'the retired kid is logged as unknown')
  t.ok(entries.some((e) => e.msg === 'jwt rejected' && e.reason === 'FST_PYWATT_JWT_SIGNATURE'))
  t.ok(entries.some((e) => typeof e.msg === 'string' && e.msg.startsWith('jwt key rotated')))
  for (const tok of [oldNoKid, oldKid, newNoKid, newKid]) {
    t.notOk(stderr.some((l) => l.includes(tok.split('.')[2] as string)), 'no token signature in the logs')
  }
  for (const secret of [OLD, NEW]) t.notOk(stderr.some((l) => l.includes(secret)), 'no key in the logs')
  // The scrubber would have hidden a key that was logged; that it found
  // nothing to replace shows that no line carried one.
  t.notOk(stderr.some((l) => l.includes('[REDACTED]')), 'no line had a secret to scrub')
})
