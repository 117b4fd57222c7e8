import t from 'tap'
import { fileURLToPath } from 'node:url'
import { EXIT } from '../../lib/lifecycle/exit-codes.js'
import { DevOrchestrator } from '../../lib/dev/orchestrator.js'
import { HOSTILE, HOSTILE_SECRET, leakForms, startModule } from '../helpers/modules.js'

const STDOUT_LOGGER = fileURLToPath(new URL('../../dist/test/fixtures/stdout-logger-module.js', import.meta.url))

for (const how of ['throw', 'reject']) {
  t.test(`an uncaught ${how === 'throw' ? 'exception' : 'rejection'} is reported through the scrubbing logger, then exit 1`, async (t) => {
    const { dev, stderr } = await startModule(t, HOSTILE, { secrets: { API_KEY: HOSTILE_SECRET } })
    await dev.announced()
    t.equal((await fetch(`http://${dev.listen}/crash?how=${how}`)).status, 200)
    t.same(await dev.waitForExit(10_000), { code: EXIT.CRASH, signal: null })
    const entries = stderr.map((l) => JSON.parse(l) as { level: number, msg: string, err?: { message: string, stack: string } })
    t.pass('every stderr line is JSON: nothing was printed raw')
    const fatal = entries.find((e) => e.level === 60)
    t.ok(fatal?.msg.includes(how === 'throw' ? 'uncaught exception' : 'unhandled promise rejection'), fatal?.msg ?? 'no fatal line')
    t.match(fatal?.err?.message, /\[REDACTED\]/, 'the message is there, its secret scrubbed')
    t.match(fatal?.err?.stack, /hostile-module/, 'with its stack')
    for (const form of leakForms(HOSTILE_SECRET)) t.notOk(stderr.some((l) => l.includes(form)), `no ${form}`)
  })
}

t.test('a 5xx answers a generic body with the request id; the real error is logged, scrubbed', async (t) => {
  const { dev, stderr } = await startModule(t, HOSTILE, { secrets: { API_KEY: HOSTILE_SECRET } })
  await dev.announced()
  const res = await fetch(`http://${dev.listen}/leak`)
  t.equal(res.status, 500)
  const body = await res.json() as { requestId: string, message: string }
  t.match(body, { statusCode: 500, error: 'Internal Server Error' })
  t.ok(body.message.includes(body.requestId), 'the message points at the log entry')
  const text = JSON.stringify(body)
  t.notOk(text.includes('failed with key'), 'not the error message')
  for (const form of leakForms(HOSTILE_SECRET)) t.notOk(text.includes(form), `no ${form} in the body`)
  await dev.shutdown()
  const logged = stderr.map((l) => JSON.parse(l) as { reqId?: string, msg: string, err?: { message: string } })
    .find((e) => e.reqId === body.requestId && e.msg === 'request failed with a server error')
  t.equal(logged?.err?.message, 'failed with key [REDACTED]', 'the log has the real error under that request id')
})

t.test('Fastify({ logger: true }) under an orchestrator: refused with exit 2 and a message naming pywattLogger(), stdout untouched', async (t) => {
  const dev = new DevOrchestrator({ command: process.execPath, args: [STDOUT_LOGGER], secrets: {} })
  const stderr: string[] = []
  dev.on('stderr', (line: string) => stderr.push(line))
  t.after(() => dev.kill())
  await dev.start()
  t.same(await dev.waitForExit(10_000), { code: EXIT.REFUSED, signal: null })
  t.equal(dev.stdoutBytes, 0, 'not one byte on stdout')
  const fatal = stderr.map((l) => JSON.parse(l) as { err?: { code: string, message: string } }).find((e) => e.err !== undefined)
  t.equal(fatal?.err?.code, 'FST_PYWATT_LOGGER_ON_STDOUT')
  t.match(fatal?.err?.message, /pywattLogger\(\)/)
})
