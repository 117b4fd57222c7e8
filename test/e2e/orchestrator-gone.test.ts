import t from 'tap'
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { EXIT } from '../../lib/lifecycle/exit-codes.js'
import { alive } from '../helpers/process.js'
import { EXAMPLE, HOSTILE } from '../helpers/modules.js'
import { freePort } from '../../lib/dev/free-port.js'

/**
 * The orchestrator dies: its ends of the module's stdin, stdout and stderr all
 * close at once. Here the test process is the orchestrator and owns the three
 * pipes, so it sees the module's exit code; `exited` bounds every wait.
 */

interface Exit { code: number | null, signal: NodeJS.Signals | null, ms: number }

interface Module {
  child: ChildProcessWithoutNullStreams
  listen: string
  /** Close the orchestrator's ends of all three pipes at once. */
  closeAll: () => void
  /** How the module ended, `null` if still running after `ms`. */
  exited: (ms: number) => Promise<Exit | null>
}

const SECRETS: Record<string, string> = { API_KEY: 'gone-api-key-value', JWT_SECRET: 'gone-jwt-secret-value-0123456789' }

/**
 * Spawn `entry` with three pipes, send Init, answer `get_secret` (unless
 * `answerSecrets` is false) and resolve once it announced (or at once with
 * `waitAnnounce: false`).
 */
async function spawnModule (
  t: { after: (fn: () => unknown) => void },
  entry: string,
  opts: { env?: Record<string, string>, sendInit?: boolean, answerSecrets?: boolean, waitAnnounce?: boolean } = {}
): Promise<Module> {
  const listen = `127.0.0.1:${await freePort()}`
  const child = spawn(process.execPath, [entry], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, PYWATT_STANDALONE: '0', ...opts.env }
  })
  t.after(() => child.kill('SIGKILL'))
  const started = Date.now()
  let closedAt = started
  const exit = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal, ms: Date.now() - closedAt }))
  })
  for (const s of [child.stdin, child.stdout, child.stderr]) s.on('error', () => {})
  child.stderr.resume()
  let announced: () => void = () => {}
  const announce = new Promise<void>((resolve) => { announced = resolve })
  let buf = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buf += chunk
    let nl = buf.indexOf('\n')
    while (nl !== -1) {
      const line = JSON.parse(buf.slice(0, nl)) as { op: string, name?: string }
      buf = buf.slice(nl + 1)
      if (line.op === 'get_secret' && opts.answerSecrets !== false) {
        child.stdin.write(JSON.stringify({ op: 'secret', name: line.name, value: SECRETS[line.name as string] ?? 'other-secret-value' }) + '\n')
      }
      if (line.op === 'announce') announced()
      nl = buf.indexOf('\n')
    }
  })
  if (opts.sendInit !== false) {
    child.stdin.write(JSON.stringify({ orchestrator_api: 'http://127.0.0.1:0', module_id: 'gone', env: {}, listen }) + '\n')
  }
  if (opts.waitAnnounce !== false) {
    await Promise.race([announce, exit.then(() => { throw new Error('the module exited before announcing') })])
  }
  return {
    child,
    listen,
    closeAll: () => {
      closedAt = Date.now()
      child.stdin.destroy()
      child.stdout.destroy()
      child.stderr.destroy()
    },
    exited: async (ms) => {
      let timer: NodeJS.Timeout | undefined
      const result = await Promise.race([exit, new Promise<null>((resolve) => { timer = setTimeout(resolve, ms, null) })])
      clearTimeout(timer)
      return result
    }
  }
}

const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

for (const [name, entry, env] of [
  ['the example (README logger)', EXAMPLE, {}],
  ['pywattLogger()', HOSTILE, {}],
  ['a plain pino logger on fd 2', HOSTILE, { LOGGER: 'pino' }]
] as const) {
  t.test(`all three pipes closed at once, idle: ${name} exits 0 at once`, async (t) => {
    const m = await spawnModule(t, entry, { env })
    m.closeAll()
    const exit = await m.exited(10_000)
    t.ok(exit !== null, 'the module exited (it used to hang for ever, deaf to SIGTERM)')
    t.equal(exit?.code, EXIT.OK)
    t.equal(exit?.signal, null)
    t.ok((exit?.ms ?? Infinity) < 3_000, `within ${exit?.ms} ms`)
    t.notOk(alive(m.child.pid as number), 'no process left behind')
  })
}

for (const [name, env] of [['pywattLogger()', {}], ['a plain pino logger on fd 2', { LOGGER: 'pino' }]] as const) {
  t.test(`all three pipes closed with requests in flight (${name}): they are answered, then exit 0`, async (t) => {
    const m = await spawnModule(t, HOSTILE, { env })
    const inflight = Array.from({ length: 3 }, async () => await fetch(`http://${m.listen}/slow?ms=800`).then(async (r) => await r.json()))
    await sleep(100)
    m.closeAll()
    t.same(await Promise.all(inflight), Array(3).fill({ slept: 800 }), 'every request in flight was answered over HTTP')
    const exit = await m.exited(10_000)
    t.same(exit && { code: exit.code, signal: exit.signal }, { code: EXIT.OK, signal: null })
    t.ok((exit?.ms ?? Infinity) >= 600, 'it waited for the requests')
    t.ok((exit?.ms ?? Infinity) < 5_000, `and exited ${exit?.ms} ms after the pipes closed`)
  })
}

t.test('all pipes closed while a request outlives the drain deadline: exit 3 at the deadline', async (t) => {
  const m = await spawnModule(t, HOSTILE, { env: { DRAIN_TIMEOUT: '500' } })
  const slow = fetch(`http://${m.listen}/slow?ms=20000`).catch(() => null)
  await sleep(100)
  m.closeAll()
  const exit = await m.exited(10_000)
  t.same(exit && { code: exit.code, signal: exit.signal }, { code: EXIT.FORCED, signal: null })
  t.ok((exit?.ms ?? Infinity) >= 450 && (exit?.ms ?? Infinity) < 4_000, `exited ${exit?.ms} ms after the pipes closed`)
  await slow
})

t.test('stderr closed alone: the module keeps serving, then stops on shutdown', async (t) => {
  const m = await spawnModule(t, HOSTILE)
  m.child.stderr.destroy()
  // Every request logs; each log line now meets EPIPE.
  for (let i = 0; i < 20; i++) {
    const res = await fetch(`http://${m.listen}/slow?ms=1`)
    t.equal(res.status, 200)
  }
  t.equal(await m.exited(500), null, 'still running')
  m.child.stdin.write('{"op":"shutdown"}\n')
  const exit = await m.exited(10_000)
  t.same(exit && { code: exit.code, signal: exit.signal }, { code: EXIT.OK, signal: null })
})

t.test('SIGTERM is honoured in every state', async (t) => {
  t.test('waiting for the Init line', async (t) => {
    const m = await spawnModule(t, HOSTILE, { sendInit: false, waitAnnounce: false })
    await sleep(500)
    m.child.kill('SIGTERM')
    const exit = await m.exited(5_000)
    t.ok(exit !== null, `exited (${exit?.code ?? exit?.signal})`)
  })
  t.test('waiting for a startup secret', async (t) => {
    const m = await spawnModule(t, HOSTILE, { answerSecrets: false, waitAnnounce: false })
    await sleep(500)
    m.child.kill('SIGTERM')
    const exit = await m.exited(5_000)
    t.ok(exit !== null, `exited (${exit?.code ?? exit?.signal})`)
  })
  t.test('draining after the orchestrator died, with a request that outlives the drain: a second SIGTERM exits 3 at once', async (t) => {
    const m = await spawnModule(t, HOSTILE)
    const slow = fetch(`http://${m.listen}/slow?ms=20000`).catch(() => null)
    await sleep(100)
    m.closeAll()
    await sleep(300)
    m.child.kill('SIGTERM')
    await sleep(100)
    m.child.kill('SIGTERM')
    const sentAt = Date.now()
    const exit = await m.exited(5_000)
    t.same(exit && { code: exit.code, signal: exit.signal }, { code: EXIT.FORCED, signal: null })
    t.ok(Date.now() - sentAt < 2_000, 'promptly')
    await slow
  })
})

const MIDDLE = fileURLToPath(new URL('../../dist/test/fixtures/pipe-holder-orchestrator.js', import.meta.url))

t.test('the orchestrator dies while another process holds the pipes open: the new parent is noticed, the module exits', async (t) => {
  const middle = spawn(process.execPath, [MIDDLE, HOSTILE], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.after(() => middle.kill('SIGKILL'))
  const [line] = await once(middle.stdout.setEncoding('utf8'), 'data') as [string]
  const [pid, holder] = line.trim().split(' ').map(Number)
  t.after(() => { try { process.kill(pid, 'SIGKILL') } catch {} })
  t.after(() => { try { process.kill(holder, 'SIGKILL') } catch {} })
  t.ok(alive(pid), 'the module runs')
  middle.kill('SIGKILL')
  const killedAt = Date.now()
  while (alive(pid) && Date.now() - killedAt < 10_000) await sleep(20)
  t.notOk(alive(pid), `the module is gone ${Date.now() - killedAt} ms after its orchestrator died`)
  t.ok(alive(holder), 'while its pipes are still open')
})
