import t from 'tap'
import { once } from 'node:events'
import { createServer, type AddressInfo } from 'node:net'
import { EXIT } from '../../lib/lifecycle/exit-codes.js'
import { freePort } from '../../lib/dev/free-port.js'
import { EXAMPLE, startModule } from '../helpers/modules.js'
import { accepts, externalIPv4 } from '../helpers/net.js'

// docs/reliability.md T22 with the built example as a real child process.

function fatal (stderr: string[]): Array<{ msg: string, err?: { code?: string, message?: string } }> {
  return stderr.flatMap((l) => {
    try {
      const entry = JSON.parse(l) as { level: number, msg: string, err?: { code?: string, message?: string } }
      return entry.level === 60 ? [entry] : []
    } catch {
      return []
    }
  })
}

t.test('the assigned port is taken: a clear error naming the address on stderr, exit 2, nothing announced', async (t) => {
  const blocker = createServer()
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
  t.after(() => blocker.close())
  const listen = `127.0.0.1:${(blocker.address() as AddressInfo).port}`
  const { dev, stderr } = await startModule(t, EXAMPLE, { listen })
  await t.rejects(dev.announced(20_000), /exited before/)
  t.same(await dev.waitForExit(20_000), { code: EXIT.REFUSED, signal: null })
  const [entry] = fatal(stderr)
  t.equal(entry?.msg, 'refusing to start: the module cannot listen')
  t.equal(entry?.err?.code, 'FST_PYWATT_LISTEN')
  t.match(entry?.err?.message, `Cannot listen: ${listen}`)
  t.match(entry?.err?.message, /address already in use/)
  t.equal(dev.announcedListen, null)
  t.same(dev.garbage, [], 'stdout stays pure')
})

t.test('a negotiated port: the announced port is the one granted and bound, on loopback only', async (t) => {
  const grants: Array<{ asked: number | undefined, port: number }> = []
  const { dev } = await startModule(t, EXAMPLE, {
    listen: 'not-a-socket-address',
    portResponse: async (request) => {
      const port = await freePort()
      grants.push({ asked: request.specific_port, port })
      return { success: true, port }
    }
  })
  await dev.announced()
  t.equal(grants.length, 1)
  const port = grants[0]?.port as number
  t.equal(grants[0]?.asked, undefined, 'asked for any port')
  t.equal(dev.announcedListen, `127.0.0.1:${port}`)
  t.equal((await fetch(`http://127.0.0.1:${port}/health`)).status, 200)
  const external = externalIPv4()
  if (external !== undefined) t.equal(await accepts(external, port), false, `not reachable on ${external}`)
  t.same(await dev.shutdown(), { code: EXIT.OK, signal: null })
})

t.test('the default dev orchestrator grants a port; a refusal makes the module exit 2 with the reason', async (t) => {
  const granted = await startModule(t, EXAMPLE, { listen: 'not-a-socket-address' })
  await granted.dev.announced()
  t.match(granted.dev.announcedListen, /^127\.0\.0\.1:\d+$/)
  t.equal((await fetch(`http://${granted.dev.announcedListen}/health`)).status, 200)
  await granted.dev.shutdown()

  const { dev, stderr } = await startModule(t, EXAMPLE, {
    listen: 'not-a-socket-address',
    portResponse: () => ({ success: false, port: 0, error_message: 'no ports for you' })
  })
  t.same(await dev.waitForExit(20_000), { code: EXIT.REFUSED, signal: null })
  const [entry] = fatal(stderr)
  t.equal(entry?.err?.code, 'FST_PYWATT_PORT_NEGOTIATION')
  t.match(entry?.err?.message, /no ports for you/)
  t.equal(dev.announcedListen, null)
})

t.test('DevOrchestrator: a portResponse that throws is reported as port-error; nothing is answered', async (t) => {
  const { dev } = await startModule(t, EXAMPLE, {
    listen: 'not-a-socket-address',
    portResponse: () => { throw new Error('allocator down') }
  })
  const [err] = await once(dev, 'port-error') as [Error]
  t.match(err.message, 'allocator down')
  await t.rejects(dev.announced(100), /no matching module message within 100 ms/, 'the module is left waiting for a port: nothing announced')
})
