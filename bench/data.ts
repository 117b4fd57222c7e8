import { performance } from 'node:perf_hooks'
import Sqlite from 'better-sqlite3'
import { Redis } from 'ioredis'
import { LRUCache } from 'lru-cache'
import memjs from 'memjs'
import mysql from 'mysql2/promise'
import pg from 'pg'
import { CACHE_DEFAULTS, createCache } from '../lib/cache/index.js'
import { createDatabase, DEFAULT_POOL } from '../lib/db/index.js'
import { median, percent, rate, spread, type Row, type Section } from './report.js'

/**
 * `pywatt.db.query` and `pywatt.cache.get/set` against the raw driver, same
 * statement, same server, same concurrency. Server backends run 32 operations
 * in flight; SQLite and memory are in-process and synchronous underneath, so
 * their baseline is the raw call made from an async function (what a route
 * handler would do). A backend whose server is not reachable is reported and
 * skipped.
 *
 * The raw clients get the settings the suite gives its own (the pool size and
 * timeouts of pg and mysql2, mysql2's big-number parsing, the memory cache's
 * entry and byte caps, the command timeout of Redis and Memcached), so the
 * ratio measures the API layer, not a feature the raw client was spared.
 *
 * This machine's speed drifts within seconds, so each round is long enough to
 * average out a scheduler hiccup (about ROUND_MS, sized from the warm-up), the
 * two sides alternate, and the ratio is the median of the ratios of adjacent
 * rounds: a slow stretch lowers both halves of a pair instead of one side.
 */

const ROUNDS = 15
const ROUND_MS = 300
const CONCURRENCY = 32
const TARGET = { op: '>=' as const, value: 0.95 }

type Op = (i: number) => Promise<unknown>

interface Round { perSecond: number, cpuPerOp: number }

/**
 * Operations per second of `ops` calls of `op`, `concurrency` at a time, and
 * this process's CPU time per operation (µs). Against a server, throughput can
 * be held by the server while the client idles: the CPU figure is then the one
 * that shows what a layer costs.
 */
async function throughput (op: Op, ops: number, concurrency: number): Promise<Round> {
  let next = 0
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < ops) await op(next++)
  }))
  const cpu = process.cpuUsage(cpu0)
  return { perSecond: ops / ((performance.now() - t0) / 1000), cpuPerOp: (cpu.user + cpu.system) / ops }
}

interface Pair { subject: Op, baseline: Op, concurrency: number }

async function compare (name: string, pair: Pair, log: (line: string) => void): Promise<Row> {
  const warmOps = pair.concurrency * 500
  const warm = Math.max((await throughput(pair.subject, warmOps, pair.concurrency)).perSecond, (await throughput(pair.baseline, warmOps, pair.concurrency)).perSecond)
  const ops = Math.max(warmOps, Math.ceil(warm * ROUND_MS / 1000))
  const subjectRounds: Round[] = []
  const baselineRounds: Round[] = []
  for (let round = 0; round < ROUNDS; round++) {
    if (round % 2 === 0) {
      subjectRounds.push(await throughput(pair.subject, ops, pair.concurrency))
      baselineRounds.push(await throughput(pair.baseline, ops, pair.concurrency))
    } else {
      baselineRounds.push(await throughput(pair.baseline, ops, pair.concurrency))
      subjectRounds.push(await throughput(pair.subject, ops, pair.concurrency))
    }
  }
  const subject = subjectRounds.map((r) => r.perSecond)
  const baseline = baselineRounds.map((r) => r.perSecond)
  const ratios = subject.map((x, i) => x / (baseline[i] as number))
  const s = median(subject)
  const b = median(baseline)
  const cpu = (rounds: Round[]): string => `${median(rounds.map((r) => r.cpuPerOp)).toFixed(2)} µs`
  log(`data  ${name.padEnd(24)} pywatt ${rate(s, 'ops/s')} (spread ${percent(spread(subject))})  raw ${rate(b, 'ops/s')} (spread ${percent(spread(baseline))})  pairs ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}x  CPU/op pywatt ${cpu(subjectRounds)}  raw ${cpu(baselineRounds)}`)
  return { name: `data ${name}`, detail: `pywatt ${rate(s, 'ops/s')}  raw ${rate(b, 'ops/s')}`, ratio: median(ratios), target: TARGET }
}

/** Run `body` with the backend, or report why it was skipped. */
async function backend (name: string, log: (line: string) => void, body: () => Promise<Row[]>): Promise<Row[]> {
  try {
    return await body()
  } catch (err) {
    log(`data  ${name}: SKIPPED (${(err as Error).message})`)
    return []
  }
}

export const data: Section = {
  name: 'data',
  async run ({ log }): Promise<Row[]> {
    const rows: Row[] = []

    rows.push(...await backend('sqlite', log, async () => {
      const db = createDatabase({ url: 'sqlite::memory:' })
      const raw = new Sqlite(':memory:')
      const stmt = raw.prepare('SELECT ? AS n')
      try {
        return [await compare('sqlite query', {
          subject: (i) => db.query('SELECT ? AS n', [i]),
          baseline: async (i) => stmt.all([i]),
          concurrency: 1
        }, log)]
      } finally {
        await db.close()
        raw.close()
      }
    }))

    rows.push(...await backend('postgres', log, async () => {
      const db = createDatabase({ url: 'postgres://postgres@127.0.0.1:5432/test' })
      const raw = new pg.Pool({
        host: '127.0.0.1',
        port: 5432,
        user: 'postgres',
        database: 'test',
        max: DEFAULT_POOL.max,
        idleTimeoutMillis: DEFAULT_POOL.idleTimeout,
        connectionTimeoutMillis: DEFAULT_POOL.acquireTimeout
      })
      try {
        await db.ping()
        return [await compare('postgres query', {
          subject: (i) => db.query('SELECT $1::int AS n', [i]),
          baseline: async (i) => (await raw.query('SELECT $1::int AS n', [i])).rows,
          concurrency: CONCURRENCY
        }, log)]
      } finally {
        await db.close()
        await raw.end()
      }
    }))

    rows.push(...await backend('mariadb', log, async () => {
      const db = createDatabase({ url: 'mysql://root@127.0.0.1:3306/test' })
      const raw = mysql.createPool({
        host: '127.0.0.1',
        port: 3306,
        user: 'root',
        database: 'test',
        connectionLimit: DEFAULT_POOL.max,
        maxIdle: DEFAULT_POOL.max,
        idleTimeout: DEFAULT_POOL.idleTimeout,
        connectTimeout: DEFAULT_POOL.acquireTimeout,
        charset: 'utf8mb4',
        supportBigNumbers: true
      })
      try {
        await db.ping()
        return [await compare('mariadb query', {
          subject: (i) => db.query('SELECT ? AS n', [i]),
          baseline: async (i) => (await raw.query('SELECT ? AS n', [i]))[0],
          concurrency: CONCURRENCY
        }, log)]
      } finally {
        await db.close()
        await raw.end()
      }
    }))

    rows.push(...await backend('memory', log, async () => {
      const cache = createCache()
      const raw = new LRUCache<string, string>({
        max: CACHE_DEFAULTS.maxEntries,
        maxSize: CACHE_DEFAULTS.maxBytes,
        sizeCalculation: (v, k) => k.length * 2 + 16 + v.length * 2
      })
      const value = 'v'.repeat(100)
      return [
        await compare('memory set', { subject: (i) => cache.set(`k${i & 1023}`, value), baseline: async (i) => raw.set(`k${i & 1023}`, value), concurrency: 1 }, log),
        await compare('memory get', { subject: (i) => cache.get(`k${i & 1023}`), baseline: async (i) => raw.get(`k${i & 1023}`), concurrency: 1 }, log)
      ]
    }))

    rows.push(...await backend('redis', log, async () => {
      const cache = createCache({ url: 'redis://127.0.0.1:6379/0', namespace: 'pwbench' })
      const raw = new Redis({ host: '127.0.0.1', port: 6379, maxRetriesPerRequest: 1, commandTimeout: CACHE_DEFAULTS.commandTimeout })
      const value = 'v'.repeat(100)
      try {
        await cache.set('probe', 1)
        const out = [
          await compare('redis set', { subject: (i) => cache.set(`k${i & 1023}`, value), baseline: (i) => raw.set(`pwbench-raw:k${i & 1023}`, value), concurrency: CONCURRENCY }, log),
          await compare('redis get', { subject: (i) => cache.get(`k${i & 1023}`), baseline: (i) => raw.get(`pwbench-raw:k${i & 1023}`), concurrency: CONCURRENCY }, log)
        ]
        await cache.clear()
        let cursor = '0'
        do {
          const [next, keys] = await raw.scan(cursor, 'MATCH', 'pwbench-raw:*', 'COUNT', 1000)
          cursor = next
          if (keys.length > 0) await raw.unlink(...keys)
        } while (cursor !== '0')
        return out
      } finally {
        await cache.close()
        raw.disconnect()
      }
    }))

    rows.push(...await backend('memcached', log, async () => {
      const cache = createCache({ url: 'memcached://127.0.0.1:11211', namespace: 'pwbench' })
      const raw = memjs.Client.create('127.0.0.1:11211', { retries: 1, timeout: CACHE_DEFAULTS.commandTimeout / 1000, logger: { log: () => {} } })
      const value = 'v'.repeat(100)
      try {
        await cache.set('probe', 1)
        return [
          await compare('memcached set', { subject: (i) => cache.set(`k${i & 1023}`, value), baseline: (i) => raw.set(`pwbench-raw:k${i & 1023}`, value, {}), concurrency: CONCURRENCY }, log),
          await compare('memcached get', { subject: (i) => cache.get(`k${i & 1023}`), baseline: (i) => raw.get(`pwbench-raw:k${i & 1023}`), concurrency: CONCURRENCY }, log)
        ]
      } finally {
        await cache.close()
        raw.close()
      }
    }))

    return rows
  }
}
