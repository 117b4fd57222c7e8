import t, { type Test } from 'tap'
import { readFileSync } from 'node:fs'
import { EXIT } from '../../lib/lifecycle/exit-codes.js'
import { HOSTILE, HOSTILE_SECRET, leakForms, startModule } from '../helpers/modules.js'

/** Poll `/secret-now` until the module serves `expected`; fails the test if it never does. */
async function waitForSecret (t: Test, base: string, expected: string): Promise<void> {
  let key = ''
  for (let i = 0; i < 250 && key !== expected; i++) {
    key = (await (await fetch(`${base}/secret-now`)).json() as { key: string }).key
    if (key !== expected) await new Promise((resolve) => setTimeout(resolve, 20))
  }
  t.equal(key === expected, true, 'the rotated value is in use')
}

t.test('T18 stdout purity: console.*, stray writes, default pino and Fastify logger: true all land on stderr', async (t) => {
  const rotated = HOSTILE_SECRET + '-v2'
  const { dev, stderr } = await startModule(t, HOSTILE, { secrets: { API_KEY: HOSTILE_SECRET } })
  await dev.announced()
  const base = `http://${dev.listen}`
  for (let i = 0; i < 5; i++) {
    dev.heartbeat()
    t.equal((await fetch(`${base}/noise`)).status, 200)
    t.equal((await fetch(`${base}/grandchild`)).status, 200)
  }
  await dev.rotate('API_KEY', rotated)
  await waitForSecret(t, base, rotated)
  t.equal((await fetch(`${base}/noise`)).status, 200)
  await dev.waitFor(() => dev.heartbeats.acked === 5)
  t.same(await dev.shutdown(), { code: EXIT.OK, signal: null })
  t.same(dev.garbage, [], 'zero non-protocol lines on stdout')
  t.ok(dev.stdoutBytes > 0)
  const entries = stderr.map((l) => JSON.parse(l) as { source?: string, msg: string })
  for (const text of ['console.log says hello', 'console.info', 'console.debug', 'console.warn', 'console.error', 'console.trace',
    'raw stdout write without newline and a buffer ending the line', 'a default pino logger created after the plugin',
    'a Fastify logger: true instance', 'grandchild output']) {
    t.ok(entries.some((e) => e.msg.includes(text)), `"${text}" reached stderr`)
  }
  // The route logs the secret once in each encoding: each line must be there, scrubbed.
  for (const label of ['a careless log of the secret', 'base64', 'base64url', 'hex', 'url', 'raw']) {
    t.equal(entries.filter((e) => e.msg === `${label} [REDACTED]`).length, 6, `"${label}" logged six times (both values), scrubbed`)
  }
  for (const secret of [HOSTILE_SECRET, rotated]) {
    for (const form of leakForms(secret)) t.notOk(stderr.some((l) => l.includes(form)), `no ${form} in stderr`)
  }
})

t.test('T16 a secret in messages, errors, stacks, causes, nested and encoded fields never reaches stderr or stdout', async (t) => {
  const rotated = HOSTILE_SECRET + '-rotated'
  const { dev, stderr } = await startModule(t, HOSTILE, { secrets: { API_KEY: HOSTILE_SECRET } })
  await dev.announced()
  const base = `http://${dev.listen}`
  const bodies: string[] = []
  const first = await fetch(`${base}/leak`)
  t.equal(first.status, 500)
  bodies.push(await first.text())
  await dev.rotate('API_KEY', rotated)
  await waitForSecret(t, base, rotated)
  const second = await fetch(`${base}/leak`)
  t.equal(second.status, 500)
  bodies.push(await second.text())
  await dev.shutdown()
  const captured = stderr.join('\n') + '\n' + dev.messages.map((m) => JSON.stringify(m)).join('\n')
  t.ok(stderr.some((l) => l.includes('an error whose message and stack carry the secret')), 'the leaking lines were logged')
  t.equal(stderr.filter((l) => l.includes('failed with key [REDACTED]')).length >= 2, true, 'the error message of both requests, scrubbed')
  let occurrences = 0
  for (const secret of [HOSTILE_SECRET, rotated]) {
    for (const form of leakForms(secret)) {
      occurrences += captured.split(form).length - 1
      for (const body of bodies) t.notOk(body.includes(form), `no ${form} in an error body`)
    }
  }
  t.equal(occurrences, 0, 'zero occurrences across six encodings of both values')
})

t.test('T9 SIGTERM during in-flight requests: they finish, the module exits 0; a second signal exits 3', async (t) => {
  const { dev, stderr } = await startModule(t, HOSTILE)
  await dev.announced()
  const base = `http://${dev.listen}`
  const inflight = Array.from({ length: 5 }, () => fetch(`${base}/slow?ms=400`).then(async (r) => await r.json()))
  await new Promise((resolve) => setTimeout(resolve, 100))
  dev.child.kill('SIGTERM')
  const results = await Promise.all(inflight)
  t.same(results, Array(5).fill({ slept: 400 }), 'every in-flight request was answered')
  t.same(await dev.waitForExit(15_000), { code: EXIT.OK, signal: null })
  t.ok(stderr.some((l) => l.includes('onClose ran')))

  const second = await startModule(t, HOSTILE)
  await second.dev.announced()
  const slow = fetch(`http://${second.dev.listen}/slow?ms=5000`).catch(() => null)
  await new Promise((resolve) => setTimeout(resolve, 100))
  second.dev.child.kill('SIGTERM')
  await new Promise((resolve) => setTimeout(resolve, 100))
  const sentAt = Date.now()
  second.dev.child.kill('SIGTERM')
  t.same(await second.dev.waitForExit(15_000), { code: EXIT.FORCED, signal: null })
  t.ok(Date.now() - sentAt < 2000, 'the second signal exits promptly')
  await slow
})

t.test('T7 stdin EOF with requests in flight: answered, then exit 0', async (t) => {
  const { dev, stderr } = await startModule(t, HOSTILE)
  await dev.announced()
  const inflight = Array.from({ length: 3 }, () => fetch(`http://${dev.listen}/slow?ms=300`).then((r) => r.status))
  await new Promise((resolve) => setTimeout(resolve, 50))
  dev.closeStdin()
  t.same(await Promise.all(inflight), [200, 200, 200])
  t.same(await dev.waitForExit(15_000), { code: EXIT.OK, signal: null })
  t.ok(stderr.some((l) => l.includes('orchestrator is gone')))
  t.ok(stderr.some((l) => l.includes('onClose ran')))
})

t.test('T7 variant: a request slower than the drain deadline makes the exit 3', async (t) => {
  const { dev } = await startModule(t, HOSTILE, { extraEnv: { DRAIN_TIMEOUT: '200' } })
  await dev.announced()
  const slow = fetch(`http://${dev.listen}/slow?ms=3000`).catch(() => null)
  await new Promise((resolve) => setTimeout(resolve, 50))
  dev.send({ op: 'shutdown' })
  t.same(await dev.waitForExit(15_000), { code: EXIT.FORCED, signal: null })
  await slow
})

t.test('T19 EPIPE on stdout: no crash, exit 4', async (t) => {
  const { dev, stderr } = await startModule(t, HOSTILE)
  await dev.announced()
  dev.child.stdout.destroy()
  for (let i = 0; i < 20 && dev.exited === null; i++) {
    dev.heartbeat()
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  t.same(await dev.waitForExit(15_000), { code: EXIT.OUTPUT_LOST, signal: null })
  t.notOk(stderr.some((l) => l.includes("Unhandled 'error' event")))
})

t.test('T6 a burst of 10 000 messages in one write: every heartbeat acked, none of the unsolicited secrets cached', async (t) => {
  const { dev } = await startModule(t, HOSTILE)
  await dev.announced()
  const lines: string[] = []
  for (let i = 0; i < 10_000; i++) {
    lines.push(i % 2 === 0 ? '{"op":"heartbeat"}' : `{"op":"secret","name":"BURST_${i}","value":"burst-value-${i}"}`)
  }
  dev.heartbeats.sent += 5000
  dev.child.stdin.write(lines.join('\n') + '\n')
  await dev.waitFor(() => dev.heartbeats.acked === 5000, 30_000)
  t.equal(dev.heartbeats.acked, 5000)
  // Names the module never asked for: taking them would let anyone grow its memory.
  t.same(await (await fetch(`http://${dev.listen}/secret-keys`)).json(), ['API_KEY'], 'only the secret the module uses is cached')
  t.same(await dev.shutdown(), { code: EXIT.OK, signal: null })
  t.same(dev.garbage, [])
})

t.test('T1/T2/T3/T4 bad lines and an over-cap line: logged, skipped, the module keeps answering', async (t) => {
  const { dev, stderr } = await startModule(t, HOSTILE, { extraEnv: { MAX_LINE_BYTES: String(1024 * 1024), IPC_HTTP: '1' } })
  await dev.announced()
  const bad = ['{"op":"heartbeat"', 'not json', '42', '[{"op":"heartbeat"}]', '{"op":"reboot"}', '{"op":"Heartbeat"}',
    '{"name":"x","value":"y"}', '{"op":5}', '{"op":"heartbeat","op":"shutdown"}', '{"op":"rotated","keys":["A"]}',
    '{"op":"secret","name":"K","value":"\\ud83d"}', '{"op":"heartbeat"}{"op":"shutdown"}', '{"__proto__":{"x":1},"op":"heartbeat"}']
  for (const line of bad) dev.sendRaw(line)
  dev.child.stdin.write(Buffer.from([0x7b, 0xff, 0x7d, 0x0a]))
  dev.sendRaw(`{"op":"heartbeat","pad":"${'x'.repeat(2 * 1024 * 1024)}"}`)
  dev.sendRaw(`{"op":"heartbeat","pad":"${'y'.repeat(900 * 1024)}"}`)
  dev.heartbeat()
  dev.heartbeats.sent++
  await dev.waitFor(() => dev.heartbeats.acked === 2)
  // stderr is another pipe: its lines may trail the acks on stdout.
  const count = (): number => stderr.filter((l) => l.includes('skipped a malformed protocol line')).length
  for (let i = 0; i < 100 && (count() < bad.length || !stderr.some((l) => l.includes('longer than the line cap'))); i++) {
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  const warnings = count()
  t.equal(warnings, bad.length, 'one warning per malformed line')
  t.ok(stderr.some((l) => l.includes('not valid UTF-8')))
  t.ok(stderr.some((l) => l.includes('longer than the line cap')))
  t.same(await dev.shutdown(), { code: EXIT.OK, signal: null })
})

t.test('T4 a 10 MB legal line is answered; 64 MB without a newline keeps memory bounded and the stream resynchronises', async (t) => {
  const { dev, stderr } = await startModule(t, HOSTILE, { extraEnv: { MAX_LINE_BYTES: String(16 * 1024 * 1024) } })
  await dev.announced()
  const rss = (): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${String(dev.child.pid)}/status`, 'utf8'))?.[1] ?? 0) * 1024
  dev.heartbeats.sent++
  dev.sendRaw(`{"op":"heartbeat","pad":"${'p'.repeat(10 * 1024 * 1024)}"}`)
  await dev.waitFor(() => dev.heartbeats.acked === 1, 30_000)
  const before = rss()
  const chunk = 'n'.repeat(1024 * 1024)
  let peak = 0
  for (let i = 0; i < 64; i++) {
    if (!dev.child.stdin.write(chunk)) await new Promise((resolve) => dev.child.stdin.once('drain', resolve))
    if (i % 8 === 0) peak = Math.max(peak, rss())
  }
  dev.sendRaw('')
  dev.heartbeat()
  await dev.waitFor(() => dev.heartbeats.acked === 2, 30_000)
  peak = Math.max(peak, rss())
  t.ok(peak - before < 48 * 1024 * 1024, `RSS grew ${Math.round((peak - before) / 1048576)} MiB while 64 MiB without a newline arrived (cap 16 MiB)`)
  t.same(await dev.shutdown(), { code: EXIT.OK, signal: null })
  t.ok(stderr.some((l) => l.includes('longer than the line cap')))
})

t.test('T19 stderr closed by the orchestrator: logging does not crash the module, the protocol goes on', async (t) => {
  const { dev } = await startModule(t, HOSTILE)
  await dev.announced()
  dev.child.stderr.destroy()
  for (let i = 0; i < 5; i++) {
    t.equal((await fetch(`http://${dev.listen}/leak`)).status, 500, 'a request that logs a lot')
    dev.heartbeat()
  }
  await dev.waitFor(() => dev.heartbeats.acked === 5)
  t.same(await dev.shutdown(), { code: EXIT.OK, signal: null })
})

t.test('T12 rotation with requests in flight: all answered, one ack, a duplicate notice acked without a second fetch', async (t) => {
  const { dev } = await startModule(t, HOSTILE)
  await dev.announced()
  const base = `http://${dev.listen}`
  const inflight = Array.from({ length: 20 }, () => fetch(`${base}/slow?ms=300`).then((r) => r.status))
  await new Promise((resolve) => setTimeout(resolve, 50))
  const ack = await dev.rotate('API_KEY', 'rotated-during-flight')
  t.equal(ack.status, 'success')
  t.same(await Promise.all(inflight), Array(20).fill(200))
  await dev.waitFor((m) => m.op === 'get_secret' && dev.messages.filter((x) => x.op === 'get_secret').length === 2)
  for (let i = 0; i < 50; i++) {
    const now = await (await fetch(`${base}/secret-now`)).json() as { key: string }
    if (now.key === 'rotated-during-flight') break
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  t.same(await (await fetch(`${base}/secret-now`)).json(), { key: 'rotated-during-flight' }, 'new requests see the new value')
  dev.send({ op: 'rotated', keys: ['API_KEY'], rotation_id: ack.rotation_id })
  await dev.waitFor((m) => m.op === 'rotation_ack' && dev.messages.filter((x) => x.op === 'rotation_ack').length === 2)
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal(dev.messages.filter((m) => m.op === 'get_secret').length, 2, 'no refetch for a rotation already applied')
  t.equal(dev.messages.filter((m) => m.op === 'rotation_ack' && m.rotation_id === ack.rotation_id).length, 2, 'each notice gets exactly one ack')
  t.same(await dev.shutdown(), { code: EXIT.OK, signal: null })
})
