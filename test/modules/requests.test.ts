import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { ready, startMesh, type MeshMember } from '../helpers/module-mesh.js'
import { until } from '../helpers/fake-orchestrator.js'

// The modules are killed when this test ends (a root-level t.after would wait for them to exit).
t.test('module-to-module requests between real modules', async (t) => {
  // One mesh for the file: a and b plain, c with a catch-all handler, s reachable on stdio only.
  const { modules, router } = await startMesh(t, [
    { id: 'a' },
    { id: 'b' },
    { id: 'c', env: { CATCH_ALL: '1' } },
    { id: 's', stdioOnly: true, env: { MODULES_STDIO: '1' } }
  ])
  const a = modules.get('a') as MeshMember
  const b = modules.get('b') as MeshMember
  const s = modules.get('s') as MeshMember

  const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736'
  const traceparentRe = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/

  t.test('a request is answered, both ways, with the caller as source', async (t) => {
    t.same(await a.post('/call', { target: 'b', endpoint: 'echo', payload: { hello: 'b' } }),
      { ok: true, value: { payload: { hello: 'b' }, source: 'a', endpoint: 'echo', by: 'b' } })
    t.same(await b.post('/call', { target: 'a', endpoint: 'echo', payload: [1, 'two', null] }),
      { ok: true, value: { payload: [1, 'two', null], source: 'b', endpoint: 'echo', by: 'a' } })
  })

  t.test('1,000 concurrent requests are each answered once, with their own answer', async (t) => {
    const before = (await a.post('/call', { target: 'b', endpoint: 'served' })).value.echo ?? 0
    const unmatched = router.counts.unmatched
    t.same(await a.post('/burst', { target: 'b', n: 1000 }), { wrong: 0, pending: 0 })
    const after = (await a.post('/call', { target: 'b', endpoint: 'served' })).value.echo
    t.equal(after - before, 1000, 'the target served each request once')
    t.equal(router.counts.unmatched, unmatched, 'no answer without its request')
    t.notOk(a.stderr.some((l) => l.includes('for no pending request')), 'no answer came twice')
  })

  t.test('a target that answers too late: the caller times out, then logs and drops the answer', async (t) => {
    const started = Date.now()
    const res = await a.post('/call', { target: 'b', endpoint: 'slow', payload: { ms: 600 }, timeout: 150 })
    t.match(res, { ok: false, error: { code: 'FST_PYWATT_MODULE_TIMEOUT', statusCode: 504, message: 'Module b did not answer slow within 150 ms' } })
    t.ok(Date.now() - started < 550, 'rejected at its timeout')
    await until(() => a.stderr.some((l) => l.includes('a module answer came after its request timed out: dropped')), 3_000)
    const line = JSON.parse(a.stderr.find((l) => l.includes('after its request timed out')) as string)
    t.match(line, { source: 'b', request: 'b slow' })
    t.same((await a.post('/call', { target: 'b', endpoint: 'echo', payload: 1 })).value.payload, 1, 'the next request gets its own answer')
  })

  t.test('a handler that throws: a 4xx passes through, anything else becomes a generic handler_error', async (t) => {
    t.match(await a.post('/call', { target: 'b', endpoint: 'fail4' }), {
      ok: false,
      error: { code: 'FST_PYWATT_MODULE_REFUSED', remoteCode: 'ITEM_EXISTS', statusCode: 409, message: 'Module b refused fail4: ITEM_EXISTS: the item is already there' }
    })
    const five = await a.post('/call', { target: 'b', endpoint: 'fail5' })
    t.match(five, { ok: false, error: { code: 'FST_PYWATT_MODULE_REFUSED', remoteCode: 'handler_error', statusCode: 500 } })
    t.notMatch(five.error.message, /hunter2|10\.0\.0\.7/, 'no internals cross to the caller')
    await until(() => b.stderr.some((l) => l.includes('a module request handler failed') && l.includes('hunter2')))
    const logged = JSON.parse(b.stderr.find((l) => l.includes('a module request handler failed')) as string)
    t.match(logged, { sourceModule: 'a', endpoint: 'fail5' }, 'logged on the target, with the request named')
  })

  t.test('no handler → no_handler 404; a catch-all takes every other endpoint; an unknown target is answered by the router', async (t) => {
    t.match(await a.post('/call', { target: 'b', endpoint: 'nothing-here' }),
      { ok: false, error: { code: 'FST_PYWATT_MODULE_REFUSED', remoteCode: 'no_handler', statusCode: 404 } })
    t.same(await a.post('/call', { target: 'c', endpoint: 'anything/at/all', payload: 'x' }),
      { ok: true, value: { caughtBy: 'c', endpoint: 'anything/at/all', payload: 'x' } })
    t.match((await a.post('/call', { target: 'c', endpoint: 'echo', payload: 2 })).value, { by: 'c', payload: 2 }, 'an endpoint with its own handler is not caught')
    t.match(await a.post('/call', { target: 'nobody', endpoint: 'echo' }),
      { ok: false, error: { code: 'FST_PYWATT_MODULE_UNKNOWN_TARGET', statusCode: 404 } })
  })

  t.test('schemas are checked on both sides', async (t) => {
    t.same(await a.post('/call', { target: 'b', endpoint: 'add', payload: { a: 2, b: 3 }, typed: true }), { ok: true, value: { sum: 5 } })
    const requests = router.counts.requests
    t.match(await a.post('/call', { target: 'b', endpoint: 'add', payload: { a: 'two', b: 3 }, typed: true }),
      { ok: false, error: { code: 'FST_PYWATT_MODULE_PAYLOAD', statusCode: 400, message: /the request to b add does not match its schema: \/a: / } })
    t.equal(router.counts.requests, requests, 'refused by the caller, never sent')
    t.match(await a.post('/call', { target: 'b', endpoint: 'add', payload: { a: 'two', b: 3 } }),
      { ok: false, error: { code: 'FST_PYWATT_MODULE_REFUSED', remoteCode: 'invalid_payload', statusCode: 400, message: /\/a: / } }, 'the target checks it too')
    t.match(await a.post('/call', { target: 'b', endpoint: 'bad-answer' }),
      { ok: false, error: { remoteCode: 'handler_error', statusCode: 500 } }, 'the target checks its own answer')
    t.match(await a.post('/call', { target: 'c', endpoint: 'add-elsewhere', payload: { a: 1, b: 1 }, typed: true }),
      { ok: false, error: { code: 'FST_PYWATT_MODULE_PAYLOAD', message: /the answer of c add-elsewhere does not match its schema/ } }, 'the caller checks the answer')
  })

  t.test('bytes arrive as a Buffer and non-ASCII text intact, both ways', async (t) => {
    const bytes = Buffer.from([0, 1, 2, 0xfe, 0xff, 0x80, 0x7f])
    t.same(await a.post('/call', { target: 'b', endpoint: 'describe', bytes: bytes.toString('base64') }),
      { ok: true, value: { isBuffer: true, hex: bytes.toString('hex'), text: bytes.toString('utf8') } })
    const text = 'crème brûlée — 東京 😀 \u0000 "quoted" \\'
    t.same(await a.post('/call', { target: 'b', endpoint: 'describe', payload: text }), { ok: true, value: { isBuffer: false, hex: null, text } })
    t.same(await a.post('/call', { target: 'b', endpoint: 'bytes', bytes: bytes.toString('base64') }),
      { ok: true, bytes: Buffer.concat([Buffer.from([0xff, 0]), bytes]).toString('base64') }, 'an answer of bytes is a Buffer')
  })

  t.test('the trace continues: same trace-id, a fresh parent-id at each hop', async (t) => {
    const given = `00-${TRACE_ID}-00f067aa0ba902b7-01`
    const res = await a.post('/call', { target: 'b', endpoint: 'relay', payload: { target: 'c', endpoint: 'trace', body: null }, traceparent: given, tracestate: 'vendor=abc' })
    t.equal(res.ok, true)
    const atB = traceparentRe.exec(res.value.traceparent)
    const atC = traceparentRe.exec(res.value.answer.traceparent)
    t.equal(atB?.[1], TRACE_ID)
    t.equal(atC?.[1], TRACE_ID)
    t.not(atB?.[2], '00f067aa0ba902b7')
    t.not(atC?.[2], atB?.[2])
    t.equal(atC?.[3], '01')
    t.equal(res.value.answer.tracestate, 'vendor=abc')
    const fresh = await a.post('/call', { target: 'b', endpoint: 'trace' })
    t.match(fresh.value.traceparent, traceparentRe, 'without one, a new trace')
    t.not(traceparentRe.exec(fresh.value.traceparent)?.[1], TRACE_ID)
  })

  t.test('modules.fetch reaches the target\'s real routes, hooks included', async (t) => {
    const items = await a.post('/fetch', { target: 'b', path: '/api/items?x=1' })
    t.match(items, { ok: true, status: 200, headers: { 'x-items': '2', 'content-type': /application\/json/ }, cookies: ['a=1', 'b=2'] })
    t.same(JSON.parse(items.body), [{ id: 1, name: 'crème brûlée €' }, { id: 2, name: '東京' }, { remote: 'module:a' }])
    t.match(await a.post('/fetch', { target: 'b', path: '/api/private', init: { method: 'POST', body: 'x' } }), { ok: true, status: 401 }, 'the route\'s onRequest hook ran')
    t.match(await a.post('/fetch', { target: 'b', path: '/api/private', init: { method: 'POST', headers: { authorization: 'Bearer good', 'content-type': 'application/octet-stream' }, body: 'päyload' } }),
      { ok: true, status: 201, body: 'got:päyload' })
    t.match(await a.post('/fetch', { target: 'b', path: '/api/empty' }), { ok: true, status: 204, body: '' })
    t.match(await a.post('/fetch', { target: 'nobody', path: '/api/items' }), { ok: false, error: { code: 'FST_PYWATT_MODULE_UNKNOWN_TARGET' } })
    t.match(await a.post('/fetch', { target: 'b', path: 'api/items' }), { ok: false, error: { code: 'FST_PYWATT_MODULE_PAYLOAD' } })
    t.match(await a.post('/fetch', { target: 'b', path: '/api/items', init: { method: 'GET', body: 'no' } }), { ok: false, error: { code: 'FST_PYWATT_MODULE_PAYLOAD', message: /modules\.fetch\(\): / } })
  })

  t.test('an aborted request rejects with the signal\'s reason and is forgotten', async (t) => {
    const res = await a.post('/call', { target: 'b', endpoint: 'slow', payload: { ms: 400 }, abortAfter: 50 })
    t.match(res, { ok: false, error: { message: 'caller gave up' } })
    await until(() => a.stderr.some((l) => l.includes('after the abort')))
    t.match(JSON.parse(a.stderr.findLast((l) => l.includes('after the abort')) as string), { pending: 0 })
    await until(() => a.stderr.some((l) => l.includes('a module answer for no pending request: dropped')), 3_000)
  })

  t.test('on stdio, where the orchestrator routes it and modules.stdio allows it', async (t) => {
    t.match(await a.post('/call', { target: 's', endpoint: 'echo', payload: 'to s' }), { ok: true, value: { by: 's', source: 'a' } }, 'request delivered on stdio, answered there')
    t.match(await s.post('/call', { target: 'b', endpoint: 'echo', payload: 'from s' }), { ok: true, value: { by: 'b', source: 's' } }, 'request sent on stdio')
  })

  t.test('a target that crashes mid-request: the caller hears unavailable, pywatt-dev restarts it, later requests succeed', async (t) => {
    const c = modules.get('c') as MeshMember
    const pid = c.host.pid
    t.match(await a.post('/call', { target: 'c', endpoint: 'crash' }), { ok: false, error: { code: 'FST_PYWATT_MODULE_UNAVAILABLE', statusCode: 503, message: /module c stopped before it answered \(exited with code 9\)/ } })
    await until(() => c.host.restarts >= 1 || (c.host.pid !== null && c.host.pid !== pid), 10_000)
    await ready(c)
    t.not(c.host.pid, pid, 'a new process')
    t.match(await a.post('/call', { target: 'c', endpoint: 'echo', payload: 'again' }), { ok: true, value: { by: 'c', payload: 'again' } })
  })

  t.test('channels cut on both sides with requests in flight: every request is answered once', async (t) => {
    const inFlight = Array.from({ length: 40 }, async (_, i) => await a.post('/call', { target: 'b', endpoint: 'slow', payload: { ms: 300 + i } }))
    await sleep(100)
    b.dev.channels.tcp?.dropConnection()
    await sleep(60)
    a.dev.channels.tcp?.dropConnection()
    const answers = await Promise.all(inFlight)
    t.equal(answers.filter((x) => x.ok === true && x.value.late === true).length, 40, 'all answered')
    t.ok((a.dev.channels.tcp?.connections ?? 0) >= 2 && (b.dev.channels.tcp?.connections ?? 0) >= 2, 'both reconnected')
    t.match(await b.post('/call', { target: 'a', endpoint: 'echo', payload: 'after' }), { ok: true, value: { by: 'a' } })
  })

  t.test('service discovery through pywatt-dev: one module registers, another discovers it', async (t) => {
    const { providerId } = await a.post('/services/register', { name: 'geo-a', type: 'geo' })
    t.match(providerId, /\S+/)
    const found = await b.post('/services/discover', { type: 'geo', all: true })
    t.match(found, [{ provider_id: providerId, module_id: 'a', name: 'geo-a', version: '1.0.0', metadata: { by: 'a' } }])
    t.equal(found[0].address, a.dev.announcedListen, 'the address defaults to the announced one')
  })

  t.test('a target that stops answers what it was serving; the router answers unavailable after', async (t) => {
    const c = modules.get('c') as MeshMember
    const slow = a.post('/call', { target: 'c', endpoint: 'slow', payload: { ms: 300 } })
    await sleep(100)
    const exit = c.host.stop()
    t.same(await slow, { ok: true, value: { late: true } }, 'the handler in flight was awaited and its answer sent')
    await exit
    t.match(await a.post('/call', { target: 'c', endpoint: 'echo' }), { ok: false, error: { code: 'FST_PYWATT_MODULE_UNAVAILABLE', statusCode: 503 } })
  })
})
