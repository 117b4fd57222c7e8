import t from 'tap'
import { DevOrchestrator } from '../../lib/dev/orchestrator.js'

// A module that writes 2 500 protocol lines and 2 500 stray lines on stdout, numbered, then exits.
const CHATTY = `
const out = []
for (let i = 0; i < 2500; i++) out.push(JSON.stringify({ op: 'heartbeat_ack', n: i }), 'stray ' + i)
process.stdout.write(out.join('\\n') + '\\n')
`

t.test('keepMessages: the latest messages and stray lines are kept, the oldest dropped; by default all are', async (t) => {
  const bounded = new DevOrchestrator({ command: process.execPath, args: ['-e', CHATTY], keepMessages: 100 })
  t.after(() => bounded.kill())
  let seen = 0
  bounded.on('message', () => { seen++ })
  await bounded.start()
  await bounded.waitForExit(10_000)
  t.equal(seen, 2500, 'every message was still delivered as an event')
  t.ok(bounded.messages.length <= 100 && bounded.messages.length >= 75, `a window of the latest (${bounded.messages.length})`)
  const n = (i: number): unknown => (bounded.messages.at(i) as unknown as { n: number }).n
  t.equal(n(-1), 2499, 'the last one is kept')
  t.equal(n(0), 2500 - bounded.messages.length, 'a contiguous window of the newest')
  t.ok(bounded.garbage.length <= 100 && bounded.garbage.length >= 75)
  t.equal(bounded.garbage.at(-1), 'stray 2499')
  t.equal(bounded.garbage[0], `stray ${2500 - bounded.garbage.length}`, 'a contiguous window of the newest')

  const full = new DevOrchestrator({ command: process.execPath, args: ['-e', CHATTY] })
  t.after(() => full.kill())
  await full.start()
  await full.waitForExit(10_000)
  t.equal(full.messages.length, 2500)
  t.equal(full.garbage.length, 2500)
})

t.test('ownProcessGroup: when shutdown is not enough, SIGTERM reaches the process a wrapper started, not the wrapper alone', async (t) => {
  // The module is a shell that runs node (not exec'd: a command follows); node names its pid and ignores shutdown.
  const inner = "process.stderr.write(process.pid + '\\n'); setInterval(() => {}, 1000)"
  const dev = new DevOrchestrator({ command: 'sh', args: ['-c', `'${process.execPath}' -e "${inner}"; true`], ownProcessGroup: true })
  t.after(() => dev.kill())
  const pid = new Promise<number>((resolve) => dev.on('stderr', (line: string) => { if (/^\d+$/.test(line)) resolve(Number(line)) }))
  await dev.start()
  const started = await pid
  const alive = (): boolean => {
    try {
      process.kill(started, 0)
      return true
    } catch {
      return false
    }
  }
  t.teardown(() => { if (alive()) process.kill(started, 'SIGKILL') })
  const exit = await dev.shutdown(300)
  t.equal(exit.signal, 'SIGTERM', 'the wrapper ended by the SIGTERM after the grace')
  for (const end = Date.now() + 5_000; alive() && Date.now() < end;) await new Promise((resolve) => setTimeout(resolve, 50))
  t.notOk(alive(), 'and so did the node process it started')
})
