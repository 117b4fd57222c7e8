import t, { type Test } from 'tap'
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EXIT } from '../../lib/lifecycle/exit-codes.js'
import { freePort } from '../../lib/dev/free-port.js'
import { alive } from '../helpers/process.js'
import { EXAMPLE } from '../helpers/modules.js'
import { requireServer } from '../data/helpers.js'
import { TcpProxy } from '../helpers/tcp-proxy.js'
import { ChannelServer } from '../../lib/dev/channel-server.js'
import pg from 'pg'

/**
 * Chaos: the example module runs under a test orchestrator with load on it
 * (writes over HTTP, reads over stdio) and one thing breaks at a random moment.
 * After each fault the module either goes on serving correctly or exits with
 * the documented code within the bound; no process is left behind, no request
 * is answered twice, and no write it acknowledged is lost (its SQLite file is
 * read back, by a fresh module when the first one exited).
 *
 * `PYWATT_CHAOS_SEED` repeats a run; `PYWATT_CHAOS_ITERATIONS` sets its length.
 */

const ITERATIONS = Number(process.env.PYWATT_CHAOS_ITERATIONS ?? 12)
const SEED = Number(process.env.PYWATT_CHAOS_SEED ?? (Date.now() % 2 ** 31))
/** The example's drain deadline (10 s) and a margin: a stop must end within it. */
const EXIT_BOUND_MS = 15_000

/** A small seeded generator (mulberry32): a failing run can be repeated from its seed. */
function random (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32
  }
}

type Fault = 'orchestrator killed' | 'stdin closed' | 'SIGTERM' | 'shutdown' | 'stdout reader stalls' | 'rotation mid-request' | 'channel reset' | 'database cut'
/** Faults after which the module must exit, with the codes docs/protocol.md §8.3 allows for each, and those it must ride out. */
const EXIT_CODES: Partial<Record<Fault, readonly number[]>> = {
  // Replies still owed when stdout died: 4 says they were lost; with none owed, a clean 0.
  'orchestrator killed': [EXIT.OK, EXIT.OUTPUT_LOST],
  'stdin closed': [EXIT.OK],
  SIGTERM: [EXIT.OK],
  shutdown: [EXIT.OK]
}
const EXITS = Object.keys(EXIT_CODES) as Fault[]
const SURVIVES: readonly Fault[] = ['stdout reader stalls', 'rotation mid-request', 'channel reset', 'database cut']
const FAULTS = [...EXITS, ...SURVIVES]

interface Exit { code: number | null, signal: NodeJS.Signals | null }

class Module {
  readonly child: ChildProcessWithoutNullStreams
  readonly listen: string
  readonly replies = new Map<string, number[]>()
  readonly acks: string[] = []
  readonly exit: Promise<Exit>
  #announced!: () => void
  readonly announced = new Promise<void>((resolve) => { this.#announced = resolve })
  #secrets: Record<string, string>
  #buf = ''

  constructor (listen: string, databaseUrl: string, channel: ChannelServer) {
    this.listen = listen
    this.#secrets = { API_KEY: 'chaos-api-key-value', JWT_SECRET: 'chaos-jwt-secret-value-0123456789', DATABASE_URL: databaseUrl }
    this.child = spawn(process.execPath, [EXAMPLE], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, PYWATT_STANDALONE: '0', DATABASE_URL: 'from-the-orchestrator', PYWATT_LOG_LEVEL: 'warn' }
    })
    this.exit = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })))
    for (const s of [this.child.stdin, this.child.stdout, this.child.stderr]) s.on('error', () => {})
    this.child.stderr.resume()
    this.child.stdout.setEncoding('utf8').on('data', (chunk: string) => this.#read(chunk))
    this.send({ orchestrator_api: 'http://127.0.0.1:0', module_id: 'chaos', env: {}, listen, tcp_channel: { address: channel.address, tls_enabled: false, required: false } })
  }

  send (message: Record<string, unknown>): void {
    if (this.child.stdin.writable) this.child.stdin.write(JSON.stringify(message) + '\n')
  }

  rotate (key: string, value: string): string {
    this.#secrets[key] = value
    const id = `rot-${Math.random().toString(36).slice(2)}`
    this.send({ op: 'rotated', keys: [key], rotation_id: id })
    return id
  }

  #read (chunk: string): void {
    this.#buf += chunk
    let nl = this.#buf.indexOf('\n')
    while (nl !== -1) {
      const line = JSON.parse(this.#buf.slice(0, nl)) as Record<string, any>
      this.#buf = this.#buf.slice(nl + 1)
      if (line.op === 'get_secret') this.send({ op: 'secret', name: line.name, value: this.#secrets[line.name as string] ?? 'other-secret-value' })
      if (line.op === 'announce') this.#announced()
      if (line.op === 'rotation_ack') this.acks.push(line.rotation_id as string)
      const id = line.content?.request_id as string | undefined
      if (id !== undefined) this.replies.set(id, [...(this.replies.get(id) ?? []), line.content.status_code as number])
      nl = this.#buf.indexOf('\n')
    }
  }

  async start (): Promise<void> {
    await Promise.race([this.announced, this.exit.then((e) => { throw new Error(`the module exited (${String(e.code ?? e.signal)}) before announcing`) })])
  }

  async exitedWithin (ms: number): Promise<Exit | null> {
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<null>((resolve) => { timer = setTimeout(resolve, ms, null) })
    const result = await Promise.race([this.exit, late])
    clearTimeout(timer)
    return result
  }

  async items (): Promise<string[]> {
    const res = await fetch(`http://${this.listen}/api/items`)
    return ((await res.json()) as Array<{ name: string }>).map((i) => i.name)
  }
}

async function boot (t: Test, databaseUrl: string): Promise<{ m: Module, channel: ChannelServer }> {
  const channel = new ChannelServer({ kind: 'tcp' })
  await channel.listen()
  const m = new Module(`127.0.0.1:${await freePort()}`, databaseUrl, channel)
  t.after(async () => {
    m.child.kill('SIGKILL')
    await channel.close()
  })
  await m.start()
  await channel.connected()
  return { m, channel }
}

const PG = { host: '127.0.0.1', port: 5432 }
const PG_DATABASE = 'pywatt_chaos'

/** A database of the chaos test's own on the shared server, so its items table is nobody else's. */
async function chaosDatabase (): Promise<void> {
  const client = new pg.Client({ ...PG, user: 'postgres', database: 'test' })
  await client.connect()
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [PG_DATABASE])
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE ${PG_DATABASE}`)
  } finally {
    await client.end()
  }
}

/** Load until `stop()`: writes over HTTP (acknowledged ones recorded), reads over stdio. */
function load (m: Module, tag: string): { stop: () => Promise<void>, acked: string[], ackedAt: number[], sent: string[] } {
  const acked: string[] = []
  const ackedAt: number[] = []
  const sent: string[] = []
  const state = { running: true }
  let n = 0
  const writes = (async () => {
    while (state.running) {
      const name = `${tag}-w${n++}`
      try {
        const res = await fetch(`http://${m.listen}/api/items`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }) })
        if (res.status === 201) {
          acked.push(name)
          ackedAt.push(Date.now())
        }
        await res.arrayBuffer()
      } catch {
        // A write the module never acknowledged may or may not have landed: only acknowledged ones count.
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
    }
  })()
  const reads = setInterval(() => {
    const id = `${tag}-r${sent.length}`
    sent.push(id)
    m.send({ op: 'http_request', request_id: id, method: 'GET', uri: '/hello', headers: {} })
  }, 3)
  return {
    acked,
    ackedAt,
    sent,
    stop: async () => {
      state.running = false
      clearInterval(reads)
      await writes
    }
  }
}

t.test(`chaos: ${ITERATIONS} iterations, seed ${SEED}`, async (t) => {
  t.comment(`PYWATT_CHAOS_SEED=${SEED} PYWATT_CHAOS_ITERATIONS=${ITERATIONS} repeats this run`)
  const rand = random(SEED)
  const dir = mkdtempSync(join(tmpdir(), 'pywatt-chaos-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const tally = new Map<Fault, number>()
  // The database cut runs against PostgreSQL behind a proxy; every other fault on a SQLite file.
  const withPostgres = await requireServer(t, 'PostgreSQL', PG.host, PG.port)
  if (withPostgres) await chaosDatabase()
  for (let i = 0; i < ITERATIONS; i++) {
    const drawn = FAULTS[Math.floor(rand() * FAULTS.length)] as Fault
    const fault: Fault = drawn === 'database cut' && !withPostgres ? 'rotation mid-request' : drawn
    const delay = 20 + Math.floor(rand() * 250)
    tally.set(fault, (tally.get(fault) ?? 0) + 1)
    await t.test(`#${i} ${fault} after ${delay} ms`, async (t) => {
      let databaseUrl = `sqlite://${join(dir, `items-${i}.sqlite`)}`
      let proxy: TcpProxy | undefined
      if (fault === 'database cut') {
        proxy = new TcpProxy(PG.host, PG.port)
        await proxy.start()
        const cut = proxy
        t.after(async () => { await cut.close() })
        databaseUrl = `postgres://postgres@127.0.0.1:${proxy.port}/${PG_DATABASE}`
      }
      const { m, channel } = await boot(t, databaseUrl)
      const traffic = load(m, `s${SEED}-i${i}`)
      await new Promise((resolve) => setTimeout(resolve, delay))
      let rotation: string | undefined
      let restoredAt = 0
      switch (fault) {
        case 'orchestrator killed':
          m.child.stdin.destroy()
          m.child.stdout.destroy()
          m.child.stderr.destroy()
          break
        case 'stdin closed': m.child.stdin.end(); break
        case 'SIGTERM': m.child.kill('SIGTERM'); break
        case 'shutdown': m.send({ op: 'shutdown' }); break
        case 'stdout reader stalls':
          m.child.stdout.pause()
          await new Promise((resolve) => setTimeout(resolve, 300))
          m.child.stdout.resume()
          break
        case 'rotation mid-request': rotation = m.rotate('API_KEY', `chaos-rotated-${i}-value`); break
        case 'channel reset': channel.dropConnection(); break
        case 'database cut':
          await proxy?.cut()
          await new Promise((resolve) => setTimeout(resolve, 300))
          await proxy?.restore()
          restoredAt = Date.now()
          break
      }
      await new Promise((resolve) => setTimeout(resolve, 150))
      await traffic.stop()

      if (EXITS.includes(fault)) {
        const exit = await m.exitedWithin(EXIT_BOUND_MS)
        const allowed = EXIT_CODES[fault] ?? []
        t.ok(exit !== null && exit.signal === null && allowed.includes(exit.code ?? -1), `exited ${String(exit?.code ?? exit?.signal)} (allowed: ${allowed.join(' or ')}) within ${EXIT_BOUND_MS} ms`)
        t.notOk(alive(m.child.pid as number), 'no process left behind')
      } else {
        t.equal(await m.exitedWithin(0), null, 'still serving')
        // Every read sent is answered, once, with 200.
        const deadline = Date.now() + 10_000
        while (traffic.sent.some((id) => !m.replies.has(id)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
        const unanswered = traffic.sent.filter((id) => !m.replies.has(id))
        t.same(unanswered, [], `all ${traffic.sent.length} stdio requests answered`)
        t.ok(traffic.sent.every((id) => m.replies.get(id)?.every((s) => s === 200) === true), 'each with 200')
        if (rotation !== undefined) t.same(m.acks.filter((a) => a === rotation), [rotation], 'the rotation acked once')
        if (fault === 'database cut') t.ok(traffic.ackedAt.some((at) => at > restoredAt), 'writes are acknowledged again once the database is back')
        // The channel is back (reconnected after a reset) and serves.
        await channel.connected()
        t.equal((await channel.request({ method: 'GET', uri: '/hello', headers: {} })).status_code, 200, 'the channel serves')
      }
      const twice = [...m.replies].filter(([, statuses]) => statuses.length > 1).map(([id]) => id)
      t.same(twice, [], 'no request answered twice')

      // Acknowledged writes are stored: read back by this module, or by a fresh one on the same database.
      const reader = EXITS.includes(fault) ? (await boot(t, databaseUrl)).m : m
      const stored = new Set(await reader.items())
      const lost = traffic.acked.filter((name) => !stored.has(name))
      t.same(lost, [], `all ${traffic.acked.length} acknowledged writes kept`)
      reader.child.kill('SIGTERM')
      t.same(await reader.exitedWithin(EXIT_BOUND_MS), { code: EXIT.OK, signal: null }, 'and it stops cleanly')
    })
  }
  t.comment(`faults injected: ${[...tally].map(([f, n]) => `${f} ×${n}`).join(', ')}`)
})
