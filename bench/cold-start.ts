import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import { DevOrchestrator } from '../lib/dev/orchestrator.js'
import { median, ms, spread, percent, ratio, type Row, type Section } from './report.js'

/**
 * Cold start: spawn → `announce` of two modules under the dev orchestrator,
 * against spawn → `listening` of the same routes on a bare Fastify app:
 *
 * - core (fixtures/core-module): the bare app's routes on the root plugin and
 *   route discovery only. Against the bare app, the difference is
 *   fastify-pywatt itself: loading it, the scrubbing logger, the Init
 *   handshake, the `get_secret` round trip, route discovery and the announce
 *   line.
 * - example (example/server): the example module with every sub-plugin, which
 *   adds SQLite, the memory cache, JWT, HTTP over IPC and port negotiation.
 *
 * The baseline (fixtures/bare-app) logs as any production Fastify app does:
 * plain pino at `info` on stderr, the level the modules log at here
 * (PYWATT_LOG_LEVEL=info), so that a logger and its startup lines are on both
 * sides. All three are spawned the same way (node, three pipes, same env),
 * bind 127.0.0.1 on an OS-chosen port, and start in interleaved rounds.
 */

const WARMUP = 1
const ROUNDS = 30
const TIMEOUT = 15_000

const moduleScript = fileURLToPath(new URL('../example/server.js', import.meta.url))
const coreScript = fileURLToPath(new URL('./fixtures/core-module.js', import.meta.url))
const bareScript = fileURLToPath(new URL('./fixtures/bare-app.js', import.meta.url))

// The same environment for every child; the modules log at `info`, as the bare app does.
const childEnv: NodeJS.ProcessEnv = { ...process.env, PYWATT_LOG_LEVEL: 'info' }

/** Timings of one module start, in milliseconds from just before `start()`. */
interface ModuleTiming {
  /** The `announce` line. */
  announce: number
  /** The `get_secret` for API_KEY: the module has loaded and read Init. */
  getSecret: number
}

/** One module start: milliseconds from just before `start()` to its `announce`. */
async function moduleStart (script = moduleScript): Promise<ModuleTiming> {
  const dev = new DevOrchestrator({
    command: process.execPath,
    args: [script],
    env: childEnv,
    secrets: { API_KEY: 'bench-key', JWT_SECRET: 'bench-jwt-secret-0123456789' },
    // Bind an OS-chosen port, as the bare app does; without it, start() would
    // first probe a free port, which is the orchestrator's cost, not the module's.
    listen: '127.0.0.1:0'
  })
  const stderr: string[] = []
  dev.on('stderr', (line: string) => { if (stderr.push(line) > 20) stderr.shift() })
  let getSecret = Number.NaN
  const t0 = performance.now()
  dev.on('message', (m: { op: string }) => {
    if (m.op === 'get_secret' && Number.isNaN(getSecret)) getSecret = performance.now() - t0
  })
  try {
    await dev.start()
    await dev.announced(TIMEOUT)
    const announce = performance.now() - t0
    const exit = await dev.shutdown(5_000)
    if (exit.code !== 0) throw new Error(`module exited with ${exit.code ?? exit.signal} after shutdown`)
    return { announce, getSecret }
  } catch (err) {
    dev.kill()
    throw new Error(`module cold start failed: ${(err as Error).message}\n${stderr.join('\n')}`, { cause: err })
  }
}

/** One bare start: milliseconds from just before `spawn` to its `listening` line. */
async function bareStart (): Promise<number> {
  const t0 = performance.now()
  const child = spawn(process.execPath, [bareScript], { env: childEnv, stdio: ['pipe', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr = (stderr + chunk).slice(-4096) })
  child.stdin.on('error', () => {})
  try {
    const elapsed = await new Promise<number>((resolve, reject) => {
      let out = ''
      const timer = setTimeout(() => reject(new Error(`no "listening" within ${TIMEOUT} ms`)), TIMEOUT)
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        out += chunk
        if (out.includes('listening\n')) {
          clearTimeout(timer)
          resolve(performance.now() - t0)
        }
      })
      child.once('exit', (code, signal) => {
        clearTimeout(timer)
        reject(new Error(`exited early with ${code ?? signal}`))
      })
      child.once('error', reject)
    })
    const exited = once(child, 'exit')
    child.stdin.end()
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
    await exited
    clearTimeout(timer)
    return elapsed
  } catch (err) {
    child.kill('SIGKILL')
    throw new Error(`bare cold start failed: ${(err as Error).message}\n${stderr}`, { cause: err })
  }
}

export const coldStart: Section = {
  name: 'cold start',
  async run ({ log }): Promise<Row[]> {
    for (const script of [moduleScript, coreScript, bareScript]) {
      if (!existsSync(script)) throw new Error(`${script} is missing: run \`npm run build\` first`)
    }
    // Warm-up: the first spawns pay for cold file caches; not counted.
    for (let i = 0; i < WARMUP; i++) {
      await moduleStart()
      await moduleStart(coreScript)
      await bareStart()
    }
    const timings: ModuleTiming[] = []
    const core: number[] = []
    const bare: number[] = []
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate the order, so drift and order effects hit all three.
      if (round % 2 === 0) {
        timings.push(await moduleStart())
        core.push((await moduleStart(coreScript)).announce)
        bare.push(await bareStart())
      } else {
        bare.push(await bareStart())
        core.push((await moduleStart(coreScript)).announce)
        timings.push(await moduleStart())
      }
    }
    const example = timings.map((t) => t.announce)
    const e = median(example)
    const c = median(core)
    const b = median(bare)
    const range = (xs: number[]): string => `min ${ms(Math.min(...xs))}  max ${ms(Math.max(...xs))}  spread ${percent(spread(xs))}`
    log(`cold start  example (spawn -> announce)  median ${ms(e)}  ${range(example)}  n=${example.length}`)
    log(`cold start  core    (spawn -> announce)  median ${ms(c)}  ${range(core)}  n=${core.length}`)
    log(`cold start  bare    (spawn -> listening) median ${ms(b)}  ${range(bare)}  n=${bare.length}`)
    const secret = median(timings.map((t) => t.getSecret))
    log(`cold start  example phases (medians): spawn -> get_secret ${ms(secret)} (load, Init)  get_secret -> announce ${ms(median(timings.map((t) => t.announce - t.getSecret)))} (secret, routes, ready, listen)`)
    const paired = (xs: number[]): number => median(xs.map((x, i) => x / (bare[i] as number)))
    log(`cold start  core / bare     ratio of medians ${ratio(c / b)}  median of per-round ratios ${ratio(paired(core))}`)
    log(`cold start  example / bare  ratio of medians ${ratio(e / b)}  median of per-round ratios ${ratio(paired(example))}`)
    return [{
      name: 'cold start, root + route discovery',
      detail: `core ${ms(c)}  bare ${ms(b)}`,
      ratio: c / b,
      target: { op: '<=', value: 1.1 }
    }, {
      name: 'cold start, example (every sub-plugin)',
      detail: `example ${ms(e)}  bare ${ms(b)}`,
      ratio: e / b,
      target: { op: '<=', value: 1.25 }
    }]
  }
}
