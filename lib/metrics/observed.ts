import { Counter, Histogram, type Registry } from 'prom-client'
import type { Observer } from '../observe.js'
import type { Database } from '../db/database.js'
import { collected, type Sample } from './collected.js'

/** Seconds: a secret answered over a local pipe takes milliseconds; the default timeout is seconds. */
const SECRET_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
/** Seconds: an embedded SQLite statement takes microseconds, a server round trip milliseconds. */
const DB_BUCKETS = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/**
 * The metrics of events the parts report to the app's observer (see
 * lib/observe.ts), and the database pool gauges read at scrape time. Every
 * label takes values from a closed set. Returns the observer and the names.
 */
export function defineObservedMetrics (registry: Registry, database: () => Database | null): { observer: Observer, names: string[] } {
  const secret = new Histogram<'outcome'>({
    name: 'pywatt_secret_request_duration_seconds',
    help: 'get_secret requests from sent to settled, by outcome: answered, timeout, failed (could not be sent, or the channel closed).',
    labelNames: ['outcome'],
    buckets: SECRET_BUCKETS,
    registers: [registry]
  })
  const rotations = new Counter<'outcome'>({
    name: 'pywatt_secret_rotations_total',
    help: 'rotated notifications by outcome: success and error (the rotation_ack sent), duplicate (acked success, nothing new).',
    labelNames: ['outcome'],
    registers: [registry]
  })
  const ports = new Counter<'outcome'>({
    name: 'pywatt_port_negotiations_total',
    help: 'Port negotiations by outcome: granted, or the reason they failed (refused, invalid-port, timeout, circuit-open, send-failed, closed, standalone, invalid-request).',
    labelNames: ['outcome'],
    registers: [registry]
  })
  const db = new Histogram<'backend' | 'outcome'>({
    name: 'pywatt_db_query_duration_seconds',
    help: 'Statements run through fastify.pywatt.db (query, execute, and each statement of a transaction), by backend and outcome (ok, error).',
    labelNames: ['backend', 'outcome'],
    buckets: DB_BUCKETS,
    registers: [registry]
  })
  const jwt = new Counter<'outcome' | 'reason'>({
    name: 'pywatt_jwt_verifications_total',
    help: 'JWT verifications (authenticate and jwt.verify) by outcome (accepted, refused) and refusal reason (none when accepted).',
    labelNames: ['outcome', 'reason'],
    registers: [registry]
  })
  const pool = collected(registry, 'gauge', 'pywatt_db_pool_connections',
    'Connections of the database pool by state: total (open), idle, waiting (callers waiting for one). PostgreSQL and MySQL/MariaDB (SQLite has no pool); absent until the database is used.',
    ['backend', 'state'], () => {
      const open = database()
      const stats = open?.poolStats() ?? null
      if (open === null || stats === null) return []
      const backend = open.dialect
      const samples: Sample[] = [
        [{ backend, state: 'total' }, stats.total],
        [{ backend, state: 'idle' }, stats.idle],
        [{ backend, state: 'waiting' }, stats.waiting]
      ]
      return samples
    })
  const observer: Observer = {
    secretRequest: (outcome, seconds) => { secret.observe({ outcome }, seconds) },
    rotation: (outcome) => { rotations.inc({ outcome }) },
    portNegotiation: (outcome) => { ports.inc({ outcome }) },
    dbQuery: (backend, ok, seconds) => { db.observe({ backend, outcome: ok ? 'ok' : 'error' }, seconds) },
    jwtVerification: (outcome, reason) => { jwt.inc({ outcome, reason }) }
  }
  const names = [
    'pywatt_secret_request_duration_seconds', 'pywatt_secret_rotations_total', 'pywatt_port_negotiations_total',
    'pywatt_db_query_duration_seconds', 'pywatt_jwt_verifications_total', pool
  ]
  return { observer, names }
}
