import t from 'tap'
import { resolveDevConfig } from '../../lib/dev/config.js'
import { ModuleHost } from '../../lib/dev/module-host.js'

t.test('deliveries for a module whose channel is not connected are held, bounded in count and time', async (t) => {
  // Offered a TCP channel it never connects: everything for it is held.
  const { modules: [spec], restart } = resolveDevConfig({ modules: [{ name: 'deaf', command: [process.execPath, '-e', 'setInterval(() => {}, 1000)'], channels: { tcp: true } }] }, process.cwd())
  if (spec === undefined) throw new Error('no module')
  const host = new ModuleHost({ spec, heartbeat: 0, serviceEcho: true, restart, maxHeld: 2, holdFor: 100, grace: 500 })
  t.after(async () => await host.stop())
  const dropped: Array<[number, string]> = []
  host.on('dropped', (n: number, why: string) => dropped.push([n, why]))
  t.equal(host.deliver({ op: 'heartbeat' }), false, 'nothing is taken before the module runs')
  await host.start()
  t.equal(host.running, true)
  t.equal(host.deliver({ op: 'heartbeat' }), true)
  t.equal(host.deliver({ op: 'heartbeat' }), true)
  t.equal(host.deliver({ op: 'heartbeat' }), false, 'over maxHeld')
  t.same(dropped, [[1, 'overflow']])
  t.equal(host.snapshot().held, 2)
  await new Promise((resolve) => setTimeout(resolve, 150))
  t.equal(host.deliver({ op: 'heartbeat' }), true, 'room again once the old ones expired')
  t.same(dropped, [[1, 'overflow'], [2, 'expired']])
  t.equal(host.snapshot().held, 1)
  await host.stop()
  t.equal(host.snapshot().held, 0, 'a run\'s held messages end with it')
  t.equal(host.deliver({ op: 'heartbeat' }), false, 'nothing is taken from a stopped module')
  t.equal(host.state, 'stopped')
})
