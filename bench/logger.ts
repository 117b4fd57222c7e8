import { randomBytes, randomInt } from 'node:crypto'
import { Writable } from 'node:stream'
import { performance } from 'node:perf_hooks'
import { setImmediate as tick } from 'node:timers/promises'
import pino from 'pino'
import { pywattLogger } from '../lib/logging/logger.js'
import { registerSecret } from '../lib/logging/registry.js'
import { REDACTED } from '../lib/logging/scrubber.js'
import { median, percent, rate, ratio, spread, type Row, type Section } from './report.js'

/**
 * Scrubbed logger throughput: `pywattLogger` with 20 registered secrets against
 * plain `pino({}, destination)`, both writing the same mix of lines into the
 * same discarding destination, in interleaved batches.
 *
 * Why a discarding `Writable` rather than `pino.destination('/dev/null')` with
 * `sync: true`: the destination is not what is being compared. A synchronous
 * /dev/null writer adds one write(2) syscall per line to both sides; that cost
 * is identical for both, varies with the kernel and the machine's load, and
 * only dilutes the ratio towards 1x. The production default (an asynchronous
 * sonic-boom on fd 2) batches its writes, so a syscall per line is not what a
 * module pays either. Discarding in-process measures what the logger itself
 * costs (serialization, the hook, the scrub pass): the strict comparison.
 *
 * The sink does encode each line into a reused buffer, as every real
 * destination must (sonic-boom hands the string to fs.write as UTF-8): pino
 * builds a line by concatenation, and a sink that never reads it would let the
 * plain side skip flattening it, a cost the scrub pass would then carry alone.
 */

const SECRET_COUNT = 20
const BATCH = 40_000
const WARMUP = 4
const ROUNDS = 21
/** Rounds of the informational breakdown (the hook alone), after the main comparison. */
const BREAKDOWN_ROUNDS = 15

/** What both loggers have in common for this bench. */
interface Log {
  info: pino.LogFn
  warn: pino.LogFn
  error: pino.LogFn
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-'

/** A random API-key-like value of 24–40 characters. */
function randomSecret (): string {
  const length = randomInt(24, 41)
  const bytes = randomBytes(length)
  let out = ''
  for (const byte of bytes) out += ALPHABET[byte & 63]
  return out
}

/** A discarding destination that counts what it was given. */
class Sink extends Writable {
  bytes = 0
  lines = 0
  readonly #scratch = Buffer.allocUnsafe(1024 * 1024)
  constructor () {
    // Strings are kept as strings: no per-line Buffer allocation on either side.
    super({ decodeStrings: false })
  }

  override _write (chunk: string, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.bytes += this.#scratch.write(chunk)
    this.lines++
    callback()
  }
}

/** A destination that keeps the lines (the scrub sanity check). */
class Capture extends Writable {
  text = ''
  constructor () {
    super({ decodeStrings: false })
  }

  override _write (chunk: string, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.text += chunk
    callback()
  }
}

function nestedError (depth: number, message: string): Error {
  if (depth === 0) {
    const err = new Error(message) as Error & { code?: string, statusCode?: number }
    err.code = 'ECONNRESET'
    err.statusCode = 502
    return err
  }
  return nestedError(depth - 1, message)
}

/** The inputs of the log mix, built once so the loop measures logging, not data generation. */
function fixtures (secrets: readonly string[]): { emit: (log: Log, i: number) => void } {
  const users = Array.from({ length: 64 }, (_, i) => `user-${(i * 7919 + 1013).toString(36)}`)
  const paths = ['/api/items', '/api/items/42', '/hello', '/api/orders?page=2&limit=50', '/api/users/me/preferences', '/health']
  const errors = [
    nestedError(3, 'upstream responded 502 Bad Gateway'),
    nestedError(6, 'connect ECONNREFUSED 10.0.3.17:5432'),
    nestedError(1, 'socket hang up'),
    new TypeError("Cannot read properties of undefined (reading 'id')")
  ]
  const reqIds = Array.from({ length: 256 }, (_, i) => `req-${(i * 48271).toString(36)}`)
  const plans = ['free', 'team', 'enterprise']
  const emit = (log: Log, i: number): void => {
    const reqId = reqIds[i & 255]
    const slot = i % 20
    if (i % 200 === 100) {
      // The leak the scrubber exists for: a secret interpolated into a message.
      log.warn('upstream rejected token %s, retrying', secrets[(i / 200 | 0) % secrets.length])
    } else if (slot < 8) {
      log.info('user %s fetched %d items from %s in %d ms', users[i & 63], i % 97, paths[i % paths.length], (i % 250) / 10)
    } else if (slot < 11) {
      log.info({
        reqId,
        req: { method: i % 3 === 0 ? 'POST' : 'GET', url: paths[i % paths.length], host: 'localhost:4102', remoteAddress: '127.0.0.1', remotePort: 40000 + (i & 1023) }
      }, 'incoming request')
    } else if (slot < 15) {
      log.info({ reqId, res: { statusCode: i % 17 === 0 ? 404 : 200 }, responseTime: (i % 900) / 7 }, 'request completed')
    } else if (slot < 19) {
      log.warn({
        job: {
          id: `job-${i}`,
          queue: 'emails',
          attempt: (i % 5) + 1,
          payload: { to: `${users[i & 63]}@example.com`, template: 'welcome', vars: { name: users[(i + 7) & 63], plan: plans[i % 3], trial: i % 2 === 0 } }
        },
        tags: ['retry', 'smtp', plans[i % 3]]
      }, 'retrying job %s after %d ms', `job-${i}`, 250 * ((i % 5) + 1))
    } else {
      log.error({ reqId, err: errors[(i / 20 | 0) % errors.length] }, 'upstream call failed')
    }
  }
  return { emit }
}

/** Lines per second for one batch of `BATCH` lines. */
async function batch (log: Log, emit: (log: Log, i: number) => void): Promise<number> {
  const t0 = performance.now()
  for (let i = 0; i < BATCH; i++) emit(log, i)
  const elapsed = performance.now() - t0
  // Let the Writable's deferred callbacks and the GC run between batches.
  await tick()
  return BATCH / (elapsed / 1000)
}

export const logger: Section = {
  name: 'logger',
  async run ({ log }): Promise<Row[]> {
    const secrets = Array.from({ length: SECRET_COUNT }, randomSecret)
    for (const secret of secrets) registerSecret(secret)
    const { emit } = fixtures(secrets)

    // Sanity check: the scrubbed logger actually scrubs (else the numbers mean nothing).
    const capture = new Capture()
    const check = pywattLogger({ destination: capture, level: 'info' })
    check.info('token %s', secrets[0])
    check.info({ auth: { basic: Buffer.from(secrets[1] as string).toString('base64') } }, 'nested')
    if (secrets.slice(0, 2).some((s) => capture.text.includes(s)) || !capture.text.includes(REDACTED)) {
      log(`logger      WARNING: the scrubbed logger did not redact the secrets; the comparison is not meaningful:\n${capture.text}`)
    }

    const sink = new Sink()
    const scrubbed: Log = pywattLogger({ destination: sink, level: 'info' })
    const plain: Log = pino({}, sink)

    const measure = async (subject: Log, into: number[] | null): Promise<{ bytes: number, lines: number }> => {
      const bytes = sink.bytes
      const lines = sink.lines
      const r = await batch(subject, emit)
      into?.push(r)
      return { bytes: sink.bytes - bytes, lines: sink.lines - lines }
    }

    for (let i = 0; i < WARMUP; i++) {
      await measure(plain, null)
      await measure(scrubbed, null)
    }
    const scrubbedRates: number[] = []
    const plainRates: number[] = []
    let scrubbedBytes = { bytes: 0, lines: 0 }
    let plainBytes = { bytes: 0, lines: 0 }
    for (let round = 0; round < ROUNDS; round++) {
      if (round % 2 === 0) {
        scrubbedBytes = await measure(scrubbed, scrubbedRates)
        plainBytes = await measure(plain, plainRates)
      } else {
        plainBytes = await measure(plain, plainRates)
        scrubbedBytes = await measure(scrubbed, scrubbedRates)
      }
    }

    const s = median(scrubbedRates)
    const p = median(plainRates)
    const avg = (x: { bytes: number, lines: number }): string => `${Math.round(x.bytes / x.lines)} bytes/line`
    log(`logger      scrubbed (${SECRET_COUNT} secrets)  median ${rate(s)}  spread ${percent(spread(scrubbedRates))}  ${avg(scrubbedBytes)}  n=${ROUNDS}x${BATCH}`)
    log(`logger      plain pino             median ${rate(p)}  spread ${percent(spread(plainRates))}  ${avg(plainBytes)}  n=${ROUNDS}x${BATCH}`)
    const paired = scrubbedRates.map((x, i) => x / (plainRates[i] as number))
    log(`logger      ratio of medians ${ratio(s / p)}  median of per-round ratios ${ratio(median(paired))}`)

    // Where the difference goes: pino with a streamWrite hook that changes
    // nothing, i.e. the hook's own cost without the scrub pass. Measured after
    // the main loop so a third logger cannot change the optimization state the
    // main comparison ran in.
    const hookOnly: Log = pino({ hooks: { streamWrite: (line: string) => line } }, sink)
    const hookRates: number[] = []
    const plainAgain: number[] = []
    await measure(hookOnly, null)
    for (let round = 0; round < BREAKDOWN_ROUNDS; round++) {
      await measure(hookOnly, hookRates)
      await measure(plain, plainAgain)
    }
    const r = median(hookRates) / median(plainAgain)
    log(`logger      breakdown: pino + an identity streamWrite hook  ${rate(median(hookRates))}  ${ratio(r)} of plain; the scrub pass accounts for the rest`)

    return [{
      name: 'logger',
      detail: `scrubbed ${rate(s)}  plain ${rate(p)}`,
      ratio: s / p,
      target: { op: '>=', value: 0.85 }
    }]
  }
}
