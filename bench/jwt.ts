import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import { setImmediate as tick } from 'node:timers/promises'
import autocannon from 'autocannon'
import Fastify, { type FastifyInstance } from 'fastify'
import pywatt, { pywattLogger } from '../plugins/index.js'
import jwt from '../plugins/jwt.js'
import { median, percent, rate, spread, type Row, type Section } from './report.js'

/**
 * JWT auth cost: one app, two identical routes, `/protected` with
 * `config: { pywatt: { auth: 'jwt' } }` (HS256 key from JWT_SECRET, a valid
 * token on every request) and `/open` without auth, measured in the same run,
 * in alternating rounds:
 *
 * - http: autocannon on the app's listener, 32 connections, keep-alive;
 * - inject: a sequential `app.inject()` loop (no sockets: the auth hook's share
 *   of the request is larger here; for reference).
 *
 * The app is standalone (the key from the environment) and logs at `error` (a
 * refused token logs a warning, and the logger is not what is measured).
 */

const CONNECTIONS = 32
const ROUNDS = 3
const WARMUP_S = 1
const DURATION_S = 2
const INJECT_BATCH = 5_000
const SECRET = 'bench-jwt-secret-0123456789abcdef'

async function buildBenchApp (): Promise<FastifyInstance> {
  const saved = process.env.JWT_SECRET
  process.env.JWT_SECRET = SECRET
  try {
    const app = Fastify({ loggerInstance: pywattLogger({ level: 'error' }) })
    await app.register(pywatt, { standalone: true, exitOnStop: false })
    await app.register(jwt)
    const handler = async (): Promise<{ ok: boolean, items: number[] }> => ({ ok: true, items: [1, 2, 3] })
    app.get('/open', handler)
    app.get('/protected', { config: { pywatt: { auth: 'jwt' } } }, handler)
    await app.listen({ host: '127.0.0.1', port: 0 })
    return app
  } finally {
    if (saved === undefined) Reflect.deleteProperty(process.env, 'JWT_SECRET')
    else process.env.JWT_SECRET = saved
  }
}

async function httpRate (base: string, path: string, headers: Record<string, string>, seconds: number): Promise<{ rps: number, non2xx: number }> {
  const r = await autocannon({ url: `${base}${path}`, connections: CONNECTIONS, duration: seconds, headers })
  return { rps: r['2xx'] / r.duration, non2xx: r.non2xx + r.errors + r.timeouts }
}

async function injectRate (app: FastifyInstance, path: string, headers: Record<string, string>): Promise<{ rps: number, non2xx: number }> {
  let non2xx = 0
  const t0 = performance.now()
  for (let i = 0; i < INJECT_BATCH; i++) {
    const res = await app.inject({ method: 'GET', url: path, headers })
    if (res.statusCode !== 200) non2xx++
  }
  const seconds = (performance.now() - t0) / 1000
  await tick()
  return { rps: INJECT_BATCH / seconds, non2xx }
}

export const jwtBench: Section = {
  name: 'jwt',
  async run ({ log }): Promise<Row[]> {
    const app = await buildBenchApp()
    try {
      const { port } = app.server.address() as AddressInfo
      const base = `http://127.0.0.1:${port}`
      const token = app.pywatt.jwt?.sign({ sub: 'bench-user', role: 'reader' }, { expiresIn: 3_600_000 }) as string
      const auth = { authorization: `Bearer ${token}` }
      // Sanity: the protected route refuses no token and accepts this one.
      const refused = await app.inject({ url: '/protected' })
      const accepted = await app.inject({ url: '/protected', headers: auth })
      if (refused.statusCode !== 401 || accepted.statusCode !== 200) {
        log(`jwt         WARNING: the protected route answered ${refused.statusCode} without a token and ${accepted.statusCode} with one; the comparison is not meaningful`)
      }

      await httpRate(base, '/open', {}, WARMUP_S)
      await httpRate(base, '/protected', auth, WARMUP_S)
      const http = { protected: [] as number[], open: [] as number[] }
      const inject = { protected: [] as number[], open: [] as number[] }
      let failures = 0
      for (let round = 0; round < ROUNDS; round++) {
        const order: Array<'protected' | 'open'> = round % 2 === 0 ? ['protected', 'open'] : ['open', 'protected']
        for (const which of order) {
          const r = await httpRate(base, `/${which}`, which === 'protected' ? auth : {}, DURATION_S)
          http[which].push(r.rps)
          failures += r.non2xx
        }
        for (const which of order) {
          const r = await injectRate(app, `/${which}`, which === 'protected' ? auth : {})
          inject[which].push(r.rps)
          failures += r.non2xx
        }
      }
      const hp = median(http.protected)
      const ho = median(http.open)
      const ip = median(inject.protected)
      const io = median(inject.open)
      log(`jwt         http   protected ${rate(hp, 'req/s')} (spread ${percent(spread(http.protected))})  open ${rate(ho, 'req/s')} (spread ${percent(spread(http.open))})  ${CONNECTIONS} connections, ${ROUNDS}x${DURATION_S} s`)
      log(`jwt         inject protected ${rate(ip, 'req/s')}  open ${rate(io, 'req/s')}  ${ROUNDS}x${INJECT_BATCH} sequential`)
      if (failures > 0) log(`jwt         WARNING: ${failures} requests did not get a 2xx`)
      return [
        { name: 'jwt auth (http)', detail: `protected ${rate(hp, 'req/s')}  open ${rate(ho, 'req/s')}`, ratio: hp / ho, target: { op: '>=', value: 0.85 } },
        { name: 'jwt auth (inject)', detail: `protected ${rate(ip, 'req/s')}  open ${rate(io, 'req/s')}`, ratio: ip / io }
      ]
    } finally {
      await app.close()
    }
  }
}
