import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { SecretStore, type RotationEvent, type SecretSource } from '../../lib/secrets/store.js'
import { secretRegistry } from '../../lib/logging/registry.js'
import { REDACTED } from '../../lib/logging/scrubber.js'
import { captureLogger, captureRawLogger } from '../helpers/log-capture.js'

/** A source that records every request; `answer` decides what `request` does. */
function fakeSource (answer: (name: string) => string | undefined = () => undefined): SecretSource & { requests: string[] } {
  const requests: string[] = []
  return {
    requests,
    request (name: string) {
      requests.push(name)
      return answer(name)
    }
  }
}

function setup (timeout = 5_000, answer?: (name: string) => string | undefined, raw = false) {
  const source = fakeSource(answer)
  const capture = raw ? captureRawLogger() : captureLogger()
  const store = new SecretStore(source, timeout, capture.logger)
  return { store, source, ...capture }
}

/** Let queued microtasks and immediates (rotation listeners) run. */
const settle = async (): Promise<void> => { await new Promise<void>((resolve) => setImmediate(resolve)) }

t.test('get, has, peek and keys', async (t) => {
  const { store, source } = setup()
  t.same(store.keys(), [])
  t.equal(store.has('DB_URL'), false)
  t.equal(store.peek('DB_URL'), undefined)
  t.equal(store.pendingCount, 0)
  t.throws(() => store.get('DB_URL'), { code: 'FST_PYWATT_SECRET_NOT_FOUND', message: /'DB_URL'/ })

  store.receive('DB_URL', 'postgres://db-value')
  store.receive('TOKEN', 'token-value-1')
  t.same(store.keys().sort(), ['DB_URL', 'TOKEN'])
  t.equal(store.has('DB_URL'), true)
  t.equal(store.peek('DB_URL'), 'postgres://db-value')
  t.equal(store.get('TOKEN'), 'token-value-1')
  t.equal(store.isStale('TOKEN'), false)
  t.throws(() => store.get('OTHER'), { code: 'FST_PYWATT_SECRET_NOT_FOUND', message: /'OTHER'/ })
  t.same(source.requests, [], 'reading the cache never asks the source')
})

t.test('fetch of a cached value does not ask again', async (t) => {
  const { store, source } = setup()
  store.receive('API_KEY', 'cached-api-key')
  t.equal(await store.fetch('API_KEY'), 'cached-api-key')
  t.same(source.requests, [])
})

t.test('concurrent fetches of one name share one request, settled by receive', async (t) => {
  const { store, source } = setup()
  const a = store.fetch('API_KEY')
  const b = store.fetch('API_KEY')
  const c = store.fetch('API_KEY', { timeout: 10 })
  t.same(source.requests, ['API_KEY'], 'a single get_secret')
  t.equal(store.pendingCount, 1)
  t.equal(store.has('API_KEY'), false)
  store.receive('API_KEY', 'the-api-key-value')
  t.same(await Promise.all([a, b, c]), ['the-api-key-value', 'the-api-key-value', 'the-api-key-value'])
  t.equal(store.pendingCount, 0)
  t.equal(store.get('API_KEY'), 'the-api-key-value')
  await sleep(30)
  t.equal(store.get('API_KEY'), 'the-api-key-value', 'the shared timer was cleared by receive')
})

t.test('fetch with refresh asks even when cached', async (t) => {
  const { store, source } = setup()
  store.receive('API_KEY', 'old-api-key')
  const p = store.fetch('API_KEY', { refresh: true })
  t.same(source.requests, ['API_KEY'])
  t.equal(store.get('API_KEY'), 'old-api-key', 'the old value is served meanwhile')
  store.receive('API_KEY', 'new-api-key')
  t.equal(await p, 'new-api-key')
  t.equal(store.get('API_KEY'), 'new-api-key')
  t.equal(await store.fetch('API_KEY', { refresh: false }), 'new-api-key')
  t.equal(source.requests.length, 1, 'refresh:false uses the cache')
})

t.test('timeout rejects naming key and ms; a late reply is still cached', async (t) => {
  const { store, source, entries } = setup(25, undefined, true)
  const started = Date.now()
  await t.rejects(store.fetch('SLOW_KEY'), {
    code: 'FST_PYWATT_SECRET_TIMEOUT',
    message: /'SLOW_KEY'.*25 ms/
  })
  t.ok(Date.now() - started >= 20, 'waited about the timeout')
  t.equal(store.pendingCount, 0, 'the waiter is gone')
  t.equal(store.has('SLOW_KEY'), false)

  const late = () => entries().filter((e) => /after its request timed out/.test(e.msg))
  t.same(late(), [], 'nothing reported before the answer')
  store.receive('SLOW_KEY', 'late-but-valid')
  t.equal(store.get('SLOW_KEY'), 'late-but-valid', 'unsolicited values are accepted (docs/protocol.md §7.1)')
  t.equal(await store.fetch('SLOW_KEY'), 'late-but-valid')
  t.same(source.requests, ['SLOW_KEY'], 'no new request once cached')
  const reported = late()
  t.equal(reported.length, 1, 'the late answer is reported')
  t.equal(reported[0].level, 40, 'as a warning')
  t.equal(reported[0].secret, 'SLOW_KEY')
  t.notOk(JSON.stringify(entries()).includes('late-but-valid'), 'without the value')
  store.receive('SLOW_KEY', 'late-but-valid-again')
  t.equal(late().length, 1, 'reported once')

  store.receive('NEVER_ASKED', 'unsolicited-value')
  t.equal(late().length, 1, 'an unsolicited value is not a late one')
})

t.test('a fetch after a timeout asks again', async (t) => {
  const { store, source } = setup(15)
  await t.rejects(store.fetch('AGAIN'), { code: 'FST_PYWATT_SECRET_TIMEOUT' })
  const p = store.fetch('AGAIN')
  t.same(source.requests, ['AGAIN', 'AGAIN'])
  store.receive('AGAIN', 'second-answer')
  t.equal(await p, 'second-answer')
})

t.test('per-call timeout override', async (t) => {
  const { store } = setup(60_000)
  const started = Date.now()
  await t.rejects(store.fetch('QUICK', { timeout: 20 }), {
    code: 'FST_PYWATT_SECRET_TIMEOUT',
    message: /'QUICK'.*20 ms/
  })
  t.ok(Date.now() - started < 5_000, 'did not wait for the store timeout')
  t.equal(store.pendingCount, 0)

  // and the other way round: a longer per-call timeout than the store's
  const short = setup(10)
  const p = short.store.fetch('PATIENT', { timeout: 5_000 })
  await sleep(40)
  t.equal(short.store.pendingCount, 1, 'still waiting past the store timeout')
  short.store.receive('PATIENT', 'patient-value')
  t.equal(await p, 'patient-value')
})

t.test('fetchAll sends every request before any reply and correlates by name', async (t) => {
  const { store, source } = setup()
  store.receive('CACHED', 'cached-value')
  const all = store.fetchAll(['A_KEY', 'B_KEY', 'CACHED', 'C_KEY'])
  t.same(source.requests, ['A_KEY', 'B_KEY', 'C_KEY'], 'all requests out before any reply')
  t.equal(store.pendingCount, 3)
  store.receive('C_KEY', 'value-of-c')
  store.receive('A_KEY', 'value-of-a')
  store.receive('B_KEY', 'value-of-b')
  t.same(await all, { A_KEY: 'value-of-a', B_KEY: 'value-of-b', CACHED: 'cached-value', C_KEY: 'value-of-c' })
  t.equal(store.pendingCount, 0)
})

t.test('fetchAll passes its options and rejects if one name times out', async (t) => {
  const { store, source } = setup(60_000)
  store.receive('A_KEY', 'old-a')
  const all = store.fetchAll(['A_KEY', 'B_KEY'], { refresh: true, timeout: 20 })
  t.same(source.requests, ['A_KEY', 'B_KEY'], 'refresh applies to every name')
  store.receive('A_KEY', 'new-a')
  await t.rejects(all, { code: 'FST_PYWATT_SECRET_TIMEOUT', message: /'B_KEY'.*20 ms/ })
  t.equal(store.get('A_KEY'), 'new-a')
})

t.test('a source that throws: fetch rejects with that error, nothing pending', async (t) => {
  const boom = new Error('channel is gone')
  let fail = true
  const { store, source } = setup(5_000, () => { if (fail) throw boom })
  await t.rejects(store.fetch('API_KEY'), boom)
  t.equal(store.pendingCount, 0)
  await t.rejects(store.fetch('API_KEY'), boom, 'nothing cached a failed request')
  t.same(source.requests, ['API_KEY', 'API_KEY'])

  fail = false
  const p = store.fetch('API_KEY')
  t.equal(store.pendingCount, 1, 'works again once the source does')
  store.receive('API_KEY', 'recovered-value')
  t.equal(await p, 'recovered-value')
})

t.test('a source that answers at once (standalone environment mode)', async (t) => {
  const env: Record<string, string> = { FROM_ENV: 'env-secret-value-42' }
  const { store, source } = setup(5_000, (name) => env[name])
  t.equal(await store.fetch('FROM_ENV'), 'env-secret-value-42')
  t.equal(store.pendingCount, 0)
  t.equal(store.get('FROM_ENV'), 'env-secret-value-42')
  t.equal(await store.fetch('FROM_ENV'), 'env-secret-value-42')
  t.same(source.requests, ['FROM_ENV'])
  t.equal(secretRegistry.scrub('x env-secret-value-42 y'), `x ${REDACTED} y`, 'registered for scrubbing')

  // an unset variable answers nothing: the fetch waits (and times out)
  await t.rejects(store.fetch('MISSING', { timeout: 15 }), { code: 'FST_PYWATT_SECRET_TIMEOUT' })
})

t.test('typed accessors read through the store and never show the value', async (t) => {
  const { store } = setup()
  store.receive('PORT', ' 8080 ')
  store.receive('RATIO', '0.25')
  store.receive('ENABLED', 'Yes')
  store.receive('ENDPOINT', 'https://user:pw@example.test:8443/x?y=1')
  store.receive('CONFIG', '{"a":[1,2],"b":{"c":true}}')
  store.receive('TTL', '1h30m')
  store.receive('BAD', 'not-a-valid-anything-value')

  t.equal(store.int('PORT'), 8080)
  t.equal(store.float('RATIO'), 0.25)
  t.equal(store.bool('ENABLED'), true)
  const url = store.url('ENDPOINT')
  t.equal(url.port, '8443')
  t.equal(url.hostname, 'example.test')
  t.same(store.json<{ a: number[], b: { c: boolean } }>('CONFIG'), { a: [1, 2], b: { c: true } })
  t.equal(store.duration('TTL'), 5_400_000)

  const accessors: Array<[string, (name: string) => unknown, RegExp]> = [
    ['int', (n) => store.int(n), /integer/],
    ['float', (n) => store.float(n), /number/],
    ['bool', (n) => store.bool(n), /boolean/],
    ['url', (n) => store.url(n), /URL/],
    ['json', (n) => store.json(n), /JSON/],
    ['duration', (n) => store.duration(n), /duration/]
  ]
  for (const [kind, read, type] of accessors) {
    let caught: (Error & { code?: string }) | undefined
    try {
      read('BAD')
    } catch (err) {
      caught = err as Error & { code?: string }
    }
    t.ok(caught, `${kind} throws on a bad value`)
    t.equal(caught?.code, 'FST_PYWATT_SECRET_INVALID', kind)
    t.match(caught?.message, /'BAD'/, `${kind} names the key`)
    t.match(caught?.message, type, `${kind} names the type`)
    t.notOk(caught?.message.includes('not-a-valid-anything-value'), `${kind} never shows the value`)
    t.notOk(String(caught?.stack).includes('not-a-valid-anything-value'), `${kind} stack never shows the value`)
    t.throws(() => read('NOT_THERE'), { code: 'FST_PYWATT_SECRET_NOT_FOUND' }, `${kind} of a missing key`)
  }
})

t.test('receive registers the value for scrubbing before anything sees it', async (t) => {
  const { store, logger, lines } = setup()
  const value = 'freshly-received-secret-77'
  t.equal(secretRegistry.scrub(`a ${value} b`), `a ${value} b`, 'not scrubbed before')
  let seenInListener = ''
  store.onRotate(['SCRUBBED'], ({ value }) => { seenInListener = secretRegistry.scrub(value) })
  store.receive('SCRUBBED', value)
  t.equal(secretRegistry.scrub(`a ${value} b`), `a ${REDACTED} b`)
  logger.info({ nested: { v: value } }, `value is ${value}`)
  t.equal(lines.length, 1)
  t.notOk(lines[0].includes(value), 'scrubbed from a log line')
  t.ok(lines[0].includes(REDACTED))

  // the new value of a rotation is registered before the listener runs
  const rotated = 'rotated-secret-value-88'
  store.receive('SCRUBBED', rotated, 'rot-scrub')
  await settle()
  t.equal(seenInListener, REDACTED)
})

t.test('onRotate: specific keys and "*", after install, unsubscribe', async (t) => {
  const { store } = setup()
  const onA: RotationEvent[] = []
  const onB: RotationEvent[] = []
  const onAll: RotationEvent[] = []
  const installed: string[] = []
  const offA = store.onRotate(['A_KEY'], (e) => {
    onA.push(e)
    installed.push(store.get(e.key))
  })
  store.onRotate(['B_KEY'], (e) => { onB.push(e) })
  const offAll = store.onRotate('*', (e) => { onAll.push(e) })

  store.receive('A_KEY', 'a-first')
  store.receive('A_KEY', 'a-first', 'rot-0')
  await settle()
  t.same(onA, [], 'a first value or an unchanged value is not a rotation')

  store.receive('A_KEY', 'a-second', 'rot-1')
  t.same(onA, [], 'listeners run asynchronously')
  await settle()
  t.same(onA, [{ key: 'A_KEY', value: 'a-second', rotationId: 'rot-1' }])
  t.same(installed, ['a-second'], 'the listener sees the new value installed')
  t.same(onAll, [{ key: 'A_KEY', value: 'a-second', rotationId: 'rot-1' }])
  t.same(onB, [])

  store.receive('A_KEY', 'a-third')
  await settle()
  t.equal(onA.length, 1, 'a changed value without a rotation id is not a rotation')

  store.receive('B_KEY', 'b-first')
  store.receive('B_KEY', 'b-second', 'rot-2')
  await settle()
  t.same(onB, [{ key: 'B_KEY', value: 'b-second', rotationId: 'rot-2' }])
  t.equal(onAll.length, 2)
  t.equal(onA.length, 1)

  offA()
  offAll()
  offAll()
  store.receive('A_KEY', 'a-fourth', 'rot-3')
  await settle()
  t.equal(onA.length, 1, 'unsubscribed')
  t.equal(onAll.length, 2, 'unsubscribed from *')
})

t.test('one listener on several keys, with async listeners', async (t) => {
  const { store } = setup()
  const started: string[] = []
  const seen: string[] = []
  let bothSeen!: () => void
  const done = new Promise<void>((resolve) => { bothSeen = resolve })
  const off = store.onRotate(['K1', 'K2'], async (e) => {
    started.push(e.key)
    await sleep(1)
    seen.push(`${e.key}=${e.value}`)
    if (seen.length === 2) bothSeen()
  })
  store.receive('K1', 'k1-old')
  store.receive('K2', 'k2-old')
  store.receive('K1', 'k1-new', 'r')
  store.receive('K2', 'k2-new', 'r')
  await done
  t.same(seen.sort(), ['K1=k1-new', 'K2=k2-new'])
  off()
  store.receive('K1', 'k1-newer', 'r2')
  store.receive('K2', 'k2-newer', 'r2')
  // Listeners start in a microtask after `receive`: past a macrotask, an unsubscribed one would have started.
  await settle()
  t.equal(started.length, 2, 'unsubscribed from both keys')
})

t.test('a throwing or rejecting listener is logged and does not stop the others', async (t) => {
  const { store, entries } = setup()
  const calls: string[] = []
  store.onRotate(['A_KEY'], () => { calls.push('first'); throw new Error('listener threw') })
  store.onRotate(['A_KEY'], async () => { calls.push('second'); throw new Error('listener rejected') })
  store.onRotate(['A_KEY'], () => { calls.push('third') })
  store.onRotate('*', () => { calls.push('star') })
  store.receive('A_KEY', 'first-value')
  store.receive('A_KEY', 'second-value', 'rot-x')
  await settle()
  t.same(calls, ['first', 'second', 'third', 'star'])
  const failures = entries().filter((e) => e.msg === 'secret rotation listener failed')
  t.equal(failures.length, 2)
  t.same(failures.map((e) => e.err.message).sort(), ['listener rejected', 'listener threw'])
  for (const e of failures) {
    t.equal(e.secret, 'A_KEY')
    t.equal(e.level, 50, 'logged as an error')
  }
  t.equal(store.get('A_KEY'), 'second-value')
})

t.test('rotate: stale keys keep serving the old value until the new one arrives', async (t) => {
  const { store, source } = setup()
  const events: RotationEvent[] = []
  store.onRotate('*', (e) => { events.push(e) })
  store.receive('API_KEY', 'old-api-key')
  store.receive('OTHER', 'other-value')

  store.rotate(['API_KEY', 'NOT_USED'], 'rot-1')
  t.same(source.requests, ['API_KEY'], 'only the keys the module has')
  t.equal(store.isStale('API_KEY'), true)
  t.equal(store.isStale('NOT_USED'), false)
  t.equal(store.isStale('OTHER'), false)
  t.equal(store.has('NOT_USED'), false)
  t.equal(store.get('API_KEY'), 'old-api-key', 'get serves the old value meanwhile')
  t.equal(store.peek('API_KEY'), 'old-api-key')
  t.equal(store.pendingCount, 1)

  const waiting = store.fetch('API_KEY')
  t.equal(source.requests.length, 1, 'a fetch of a stale key joins the refetch')
  await settle()
  t.same(events, [], 'no rotation event before the value')

  store.receive('API_KEY', 'new-api-key', 'rot-1')
  t.equal(await waiting, 'new-api-key')
  t.equal(store.isStale('API_KEY'), false)
  t.equal(store.get('API_KEY'), 'new-api-key')
  t.equal(store.pendingCount, 0)
  await settle()
  t.same(events, [{ key: 'API_KEY', value: 'new-api-key', rotationId: 'rot-1' }])
})

t.test('a refetch answer without a rotation id belongs to the rotation that asked', async (t) => {
  const { store, source } = setup()
  const events: RotationEvent[] = []
  store.onRotate(['API_KEY'], (e) => { events.push(e) })
  store.receive('API_KEY', 'value-one')
  store.rotate(['API_KEY'], 'rot-a')
  store.receive('API_KEY', 'value-two')
  await settle()
  t.same(events, [{ key: 'API_KEY', value: 'value-two', rotationId: 'rot-a' }])
  t.equal(store.isStale('API_KEY'), false)

  store.rotate(['API_KEY'], 'rot-a')
  t.equal(source.requests.length, 1, 'the same notice again is a duplicate')
  t.equal(store.isStale('API_KEY'), false)

  // the latest notice wins while stale
  store.rotate(['API_KEY'], 'rot-b')
  store.rotate(['API_KEY'], 'rot-c')
  t.equal(source.requests.length, 2, 'one refetch for both notices')
  store.receive('API_KEY', 'value-two', null)
  await settle()
  t.equal(events.length, 2, 'ending a rotation notifies even if the value is the same')
  t.same(events[1], { key: 'API_KEY', value: 'value-two', rotationId: 'rot-c' })
  store.rotate(['API_KEY'], 'rot-c')
  t.equal(source.requests.length, 2, 'rot-c was recorded')
  store.rotate(['API_KEY'], 'rot-b')
  t.equal(source.requests.length, 3, 'rot-b was superseded, not recorded')
  store.receive('API_KEY', 'value-three', 'rot-b')
  await settle()
  t.same(events[2], { key: 'API_KEY', value: 'value-three', rotationId: 'rot-b' })
})

t.test('an unsolicited value outside a rotation carries no rotation id', async (t) => {
  const { store, source } = setup()
  const events: RotationEvent[] = []
  store.onRotate('*', (e) => { events.push(e) })
  store.receive('PLAIN', 'plain-one')
  store.receive('PLAIN', 'plain-two', null)
  store.receive('PLAIN', 'plain-three', undefined)
  await settle()
  t.same(events, [], 'a changed value without rotation id is no rotation')
  store.rotate(['PLAIN'], 'rot-p')
  t.same(source.requests, ['PLAIN'], 'no rotation id had been recorded')
})

t.test('rotate requests keys that were subscribed to but never fetched', async (t) => {
  const { store, source } = setup()
  const events: RotationEvent[] = []
  store.onRotate(['SUBSCRIBED'], (e) => { events.push(e) })
  store.onRotate('*', () => {})
  store.rotate(['SUBSCRIBED', 'UNRELATED'], 'rot-s')
  t.same(source.requests, ['SUBSCRIBED'], '"*" does not make every key wanted')
  t.equal(store.isStale('SUBSCRIBED'), true)
  store.receive('SUBSCRIBED', 'first-ever-value', 'rot-s')
  await settle()
  t.same(events, [{ key: 'SUBSCRIBED', value: 'first-ever-value', rotationId: 'rot-s' }])
})

t.test('rotate does not re-request a key already being fetched', async (t) => {
  const { store, source } = setup()
  const inFlight = store.fetch('API_KEY')
  store.rotate(['API_KEY'], 'rot-1')
  t.same(source.requests, ['API_KEY'], 'one request')
  t.equal(store.pendingCount, 1)

  store.receive('OTHER_KEY', 'other-old')
  store.rotate(['OTHER_KEY'], 'rot-2')
  store.rotate(['OTHER_KEY'], 'rot-2')
  store.rotate(['OTHER_KEY'], 'rot-3')
  t.same(source.requests, ['API_KEY', 'OTHER_KEY'], 'repeated notices while stale share the refetch')

  store.receive('API_KEY', 'api-key-value', 'rot-1')
  store.receive('OTHER_KEY', 'other-new', 'rot-3')
  t.equal(await inFlight, 'api-key-value')
  t.equal(store.pendingCount, 0)
})

t.test('a duplicate rotation notice for a current key is a no-op', async (t) => {
  const { store, source } = setup()
  const events: RotationEvent[] = []
  store.onRotate('*', (e) => { events.push(e) })
  store.receive('API_KEY', 'value-before')
  store.rotate(['API_KEY'], 'rot-dup')
  store.receive('API_KEY', 'value-after', 'rot-dup')
  await settle()
  t.equal(source.requests.length, 1)
  t.equal(events.length, 1)

  store.rotate(['API_KEY'], 'rot-dup')
  t.equal(source.requests.length, 1, 'not requested again')
  t.equal(store.isStale('API_KEY'), false)
  t.equal(store.pendingCount, 0)
  await settle()
  t.equal(events.length, 1)

  store.rotate(['API_KEY'], 'rot-next')
  t.equal(source.requests.length, 2, 'a new rotation id is not a duplicate')
  t.equal(store.isStale('API_KEY'), true)
  store.receive('API_KEY', 'value-next', 'rot-next')
})

t.test('a refetch that times out is logged and the old value stays', async (t) => {
  // A logger that does not scrub: the store itself must leave the value out.
  const { store, entries } = setup(20, undefined, true)
  store.receive('API_KEY', 'old-but-working')
  store.rotate(['API_KEY'], 'rot-slow')
  await sleep(60)
  t.equal(store.pendingCount, 0)
  t.equal(store.get('API_KEY'), 'old-but-working')
  t.equal(store.isStale('API_KEY'), true, 'still stale: the new value never came')
  const logged = entries().filter((e) => /could not fetch the rotated secret/.test(e.msg))
  t.equal(logged.length, 1)
  t.equal(logged[0].level, 50)
  t.equal(logged[0].secret, 'API_KEY')
  t.equal(logged[0].rotationId, 'rot-slow')
  t.equal(logged[0].err.code, 'FST_PYWATT_SECRET_TIMEOUT')
  t.notOk(JSON.stringify(entries()).includes('old-but-working'), 'the value is not logged')
})

t.test('a source that throws during rotate makes rotate throw naming the keys', async (t) => {
  const boom = new Error('stdout is closed')
  let fail = false
  const { store, source } = setup(5_000, () => { if (fail) throw boom })
  store.receive('A_KEY', 'a-value')
  store.receive('B_KEY', 'b-value')
  store.receive('C_KEY', 'c-value')
  const inFlight = store.fetch('C_KEY', { refresh: true })
  fail = true
  let caught: (Error & { cause?: unknown }) | undefined
  try {
    store.rotate(['A_KEY', 'B_KEY', 'C_KEY'], 'rot-fail')
  } catch (err) {
    caught = err as Error & { cause?: unknown }
  }
  t.ok(caught instanceof Error, 'rotate throws')
  t.match(caught?.message, /A_KEY, B_KEY/)
  t.notMatch(caught?.message, /C_KEY/, 'a key already being fetched did not fail')
  t.match(caught?.message, /stdout is closed/)
  t.equal(caught?.cause, boom)
  t.notOk(caught?.message.includes('a-value'), 'no value in the message')
  t.equal(store.pendingCount, 1, 'only the earlier fetch is pending')
  t.same(source.requests, ['C_KEY', 'A_KEY', 'B_KEY'])
  t.equal(store.get('A_KEY'), 'a-value', 'the old values stay')
  t.equal(store.isStale('A_KEY'), true)

  store.receive('C_KEY', 'c-new', 'rot-fail')
  t.equal(await inFlight, 'c-new')
})

t.test('close rejects every waiter and later fetches', async (t) => {
  const { store, source } = setup()
  store.receive('CACHED', 'cached-value')
  const a = store.fetch('A_KEY')
  const b = store.fetch('B_KEY')
  t.equal(store.pendingCount, 2)
  const reason = new Error('orchestrator went away')
  store.close(reason)
  t.equal(store.pendingCount, 0)
  await t.rejects(a, reason)
  await t.rejects(b, reason)

  await t.rejects(store.fetch('C_KEY'), reason, 'a new fetch is refused')
  t.same(source.requests, ['A_KEY', 'B_KEY'], 'and not sent')
  t.equal(await store.fetch('CACHED'), 'cached-value', 'the cache still answers')
  await t.rejects(store.fetch('CACHED', { refresh: true }), reason)
  t.throws(() => store.rotate(['CACHED'], 'rot-after-close'), { message: /CACHED.*orchestrator went away/ })

  // a late value still lands in the cache
  store.receive('A_KEY', 'late-a-value')
  t.equal(store.get('A_KEY'), 'late-a-value')
  await sleep(10)
})

t.test('unsubscribing the last listener of a key stops its refetch on rotation', async (t) => {
  const { store, source } = setup()
  const off = store.onRotate(['ONLY_SUBSCRIBED'], () => {})
  off()
  store.rotate(['ONLY_SUBSCRIBED'], 'rot-x')
  t.same(source.requests, [])
  t.equal(store.isStale('ONLY_SUBSCRIBED'), false)
})

t.test('a timed-out name answered in time on the next request is not reported late later', async (t) => {
  const { store, entries } = setup(15)
  await t.rejects(store.fetch('FLAKY'), { code: 'FST_PYWATT_SECRET_TIMEOUT' })
  const again = store.fetch('FLAKY')
  store.receive('FLAKY', 'answered-in-time')
  t.equal(await again, 'answered-in-time')
  store.receive('FLAKY', 'pushed-later')
  t.same(entries().filter((e) => /timed out/.test(e.msg)), [])
})

t.test('offer takes values for names asked for, expected, subscribed to or cached; ignores and counts the rest', async (t) => {
  const { store, entries } = setup()
  const events: RotationEvent[] = []
  store.onRotate(['SUBSCRIBED'], (e) => { events.push(e) })
  store.expect(['AT_START'])
  const asked = store.fetch('ASKED')
  await t.rejects(store.fetch('TIMED_OUT', { timeout: 10 }), { code: 'FST_PYWATT_SECRET_TIMEOUT' })

  t.equal(store.offer('ASKED', 'asked-value'), true)
  t.equal(await asked, 'asked-value')
  t.equal(store.offer('AT_START', 'at-start-value'), true, 'expected before it is asked for')
  t.equal(store.offer('TIMED_OUT', 'late-value'), true, 'asked for, even if the wait is over')
  t.equal(store.offer('SUBSCRIBED', 'subscribed-value', 'rot-1'), true)
  t.equal(store.offer('ASKED', 'pushed-new-value', 'rot-2'), true, 'a pushed rotation of a held value')
  t.equal(store.get('ASKED'), 'pushed-new-value')
  await settle()
  t.same(events, [], 'no rotation had been announced for SUBSCRIBED and it held no value')

  const size = secretRegistry.size
  t.equal(store.offer('NEVER_ASKED', 'never-asked-value'), false)
  t.equal(store.has('NEVER_ASKED'), false)
  t.equal(store.ignoredUnsolicited, 1)
  t.equal(secretRegistry.size, size, 'not registered for scrubbing either')
  store.onRotate('*', () => {})
  t.equal(store.offer('ANY', 'any-value'), false, '"*" subscribes to rotations of used names, not to every name')
  t.same(store.keys().sort(), ['ASKED', 'AT_START', 'SUBSCRIBED', 'TIMED_OUT'])

  const ignored = entries().filter((e) => /never asked for/.test(e.msg))
  t.same(ignored.map((e) => [e.level, e.secret, e.ignored]), [[40, 'NEVER_ASKED', 1], [40, 'ANY', 2]])
  t.notOk(JSON.stringify(entries()).includes('never-asked-value'), 'the value is not logged')
})

t.test('a flood of unsolicited values grows nothing, costs little, and logs at each doubling', async (t) => {
  const { store, logger, entries } = setup()
  const known = store.fetch('KNOWN')
  store.offer('KNOWN', 'known-value-1')
  await known
  const size = secretRegistry.size
  const cpu = process.cpuUsage()
  for (let i = 0; i < 2000; i++) {
    store.offer(`X${i}`, `unsolicited-value-${i}`)
    // A busy module logs between lines: each newly registered value would rebuild the scrubber.
    logger.info('request served')
  }
  const used = process.cpuUsage(cpu)
  const ms = (used.user + used.system) / 1000
  t.ok(ms < 1000, `${ms.toFixed(0)} ms of CPU for 2,000 unsolicited lines`)
  t.equal(store.ignoredUnsolicited, 2000)
  t.same(store.keys(), ['KNOWN'])
  t.equal(secretRegistry.size, size)
  t.same(entries().filter((e) => /never asked for/.test(e.msg)).map((e) => e.ignored), [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024])
  t.notOk(JSON.stringify(entries()).includes('unsolicited-value'))

  store.offer('KNOWN', 'known-value-2')
  t.equal(store.get('KNOWN'), 'known-value-2', 'a known name still takes a new value')
  t.equal(secretRegistry.size, size + 1)
})

t.test('2,000 pushed values for a name the module holds are taken, each at a cost of its own size', async (t) => {
  const { store, logger } = setup()
  const known = store.fetch('ROTATING')
  store.offer('ROTATING', 'rotating-value-initial')
  await known
  const size = secretRegistry.size
  const cpu = process.cpuUsage()
  for (let i = 0; i < 2000; i++) {
    store.offer('ROTATING', `rotating-value-${i}-${'x'.repeat(i % 50)}`)
    logger.info('request served')
  }
  const used = process.cpuUsage(cpu)
  const ms = (used.user + used.system) / 1000
  t.ok(ms < 1000, `${ms.toFixed(0)} ms of CPU`)
  t.equal(store.get('ROTATING'), `rotating-value-1999-${'x'.repeat(1999 % 50)}`)
  t.equal(secretRegistry.size, size + 2000, 'rotated-out values stay registered')
})
