import { PassThrough } from 'node:stream'
import Fastify, { type FastifyInstance } from 'fastify'
import pywatt from '../plugins/index.js'
import { median, rate, ratio, spread, type Row, type Section } from './report.js'

/**
 * The cost of `scrubResponses` (issue: secrets kept out of responses): the
 * same 2 KiB JSON route served by `app.inject()` with the option on and off,
 * in one process, with three secrets registered (so the scrubber's matcher
 * is built and every body is searched). Rounds alternate the order; the row is
 * the median req/s on over off. No target: the option is off by default, the
 * figure says what turning it on costs.
 */

const ROUNDS = 5
const WINDOW_MS = 1_000
const SECRETS = { SCRUB_BENCH_A: 'scrub-bench-secret-alpha-0123456789', SCRUB_BENCH_B: 'scrub-bench-secret-beta-0123456789', SCRUB_BENCH_C: 'scrub-bench-secret-gamma-0123456789' }
const BODY = { items: Array.from({ length: 24 }, (_, i) => ({ id: i, name: `item-${i}`, tags: ['alpha', 'beta'], price: i * 1.5, note: 'lorem ipsum dolor sit' })) }

async function build (scrubResponses: boolean): Promise<FastifyInstance> {
  const app = Fastify()
  // Streams of its own: the process's stdio has one owner, and two apps are compared here.
  await app.register(pywatt, { standalone: true, io: { input: new PassThrough(), output: new PassThrough() }, secrets: Object.keys(SECRETS), scrubResponses, health: false, ready: false })
  app.get('/items', async () => BODY)
  await app.ready()
  return app
}

async function requestsPerSecond (app: FastifyInstance): Promise<number> {
  const end = performance.now() + WINDOW_MS
  let n = 0
  while (performance.now() < end) {
    for (let i = 0; i < 50; i++) await app.inject('/items')
    n += 50
  }
  return n / (WINDOW_MS / 1000)
}

export const scrubResponsesBench: Section = {
  name: 'scrub-responses',
  async run ({ log }) {
    Object.assign(process.env, SECRETS)
    const off = await build(false)
    const on = await build(true)
    try {
      const bytes = (await on.inject('/items')).body.length
      log(`GET /items (${bytes} B JSON) by app.inject(), ${ROUNDS} rounds of ${WINDOW_MS} ms`)
      await requestsPerSecond(off)
      await requestsPerSecond(on)
      const offRates: number[] = []
      const onRates: number[] = []
      for (let r = 0; r < ROUNDS; r++) {
        const order = r % 2 === 0 ? [off, on] : [on, off]
        for (const app of order) (app === on ? onRates : offRates).push(await requestsPerSecond(app))
      }
      const o = median(offRates)
      const s = median(onRates)
      log(`off ${rate(o, 'req/s')} (spread ${ratio(spread(offRates))})  on ${rate(s, 'req/s')} (spread ${ratio(spread(onRates))})`)
      const row: Row = { name: 'scrubResponses on/off', detail: `on ${rate(s, 'req/s')}  off ${rate(o, 'req/s')}`, ratio: s / o }
      return [row]
    } finally {
      await Promise.all([off.close(), on.close()])
    }
  }
}
