import { randomUUID } from 'node:crypto'
import { createBackend } from '../cache/cache.js'
import type { CacheBackend, CacheValue } from '../cache/types.js'
import { valueFromWire, valueToWire } from '../cache/proxied.js'
import { createDatabase, type Database } from '../db/database.js'
import type { Queryable } from '../db/types.js'
import { executeToWire, fromWire, rowToWire } from '../db/wire.js'
import type { ModuleLine, OrchestratorMessage } from '../protocol/index.js'

type ServiceRequest = Extract<ModuleLine, { op: 'service_request' }>
type ServiceOperation = Extract<ModuleLine, { op: 'service_operation' }>

/** What the dev orchestrator's Database and Cache services serve. */
export interface DevServicesOptions {
  /** The database behind the `Database` service, opened with fastify-pywatt's own drivers (default `sqlite::memory:`); `false` refuses it. */
  databaseUrl?: string | false
  /** The cache behind the `Cache` service (default `memory:`); `false` refuses it. */
  cacheUrl?: string | false
  /** Echo each operation in its result's `params` (default true); without it a module matches results by arrival. */
  echo?: boolean
}

interface Transaction {
  tx: Queryable
  finish: (commit: boolean) => Promise<void>
}

interface Connection {
  type: 'Database' | 'Cache'
  transactions: Map<string, Transaction>
}

type Params = Record<string, unknown>

/** How a failure reads on the wire: a driver's own message, or our code first so that the module can raise the same one. */
function describe (err: unknown): string {
  const e = err as Error & { code?: unknown, cause?: unknown }
  if (e.code === 'FST_PYWATT_DB_QUERY' && e.cause instanceof Error) return e.cause.message
  return typeof e.code === 'string' && e.code.startsWith('FST_PYWATT_') ? `${e.code}: ${e.message}` : String(e.message ?? err)
}

const ttlOf = (p: Params): number => Number(p.ttl_seconds ?? 0) * 1000
const sqlParams = (p: Params): unknown[] => (Array.isArray(p.params) ? p.params : []).map(fromWire)

/**
 * The orchestrator side of the `Database` and `Cache` services (docs/protocol.md §13),
 * for `pywatt-dev` and tests: connections opened by `service_request`, each
 * operation answered with one `service_operation_result`.
 */
export class DevServices {
  readonly #opts: DevServicesOptions
  readonly #send: (message: OrchestratorMessage) => void
  readonly #connections = new Map<string, Connection>()
  readonly #counts = { hits: 0, misses: 0, sets: 0 }
  #db: Database | undefined
  #cache: CacheBackend | undefined
  #next = 0

  constructor (opts: DevServicesOptions, send: (message: OrchestratorMessage) => void) {
    this.#opts = opts
    this.#send = send
  }

  /** Answer a service line; false for any other line. */
  handle (message: ModuleLine): boolean {
    if (message.op === 'service_request') this.#open(message)
    else if (message.op === 'service_operation') this.#operate(message).catch(/* c8 ignore next */ () => {})
    else return false
    return true
  }

  /** Roll back what is open and close the database and the cache. */
  async close (): Promise<void> {
    const open = [...this.#connections.values()].flatMap((c) => [...c.transactions.values()])
    this.#connections.clear()
    await Promise.all(open.map(async (t) => { await t.finish(false).catch(() => {}) }))
    await Promise.all([this.#db?.close(), this.#cache?.close()])
  }

  #open (m: ServiceRequest): void {
    const type = m.service_type
    const served = type === 'Database' ? this.#opts.databaseUrl !== false : type === 'Cache' ? this.#opts.cacheUrl !== false : false
    if (!served) {
      this.#send({ op: 'service_response', id: m.id, service_type: type, success: false, error: `the dev orchestrator does not serve ${JSON.stringify(type)}` })
      return
    }
    const id = `${String(type).toLowerCase()}-${++this.#next}`
    this.#connections.set(id, { type: type as Connection['type'], transactions: new Map() })
    this.#send({ op: 'service_response', id: m.id, service_type: type, success: true, connection_id: id })
  }

  async #operate (m: ServiceOperation): Promise<void> {
    let reply: { success: true, result: unknown } | { success: false, error: string }
    try {
      const connection = this.#connections.get(m.connection_id)
      if (connection === undefined) throw new Error(`no open connection '${m.connection_id}'`)
      const params = (m.params ?? {}) as Params
      const result = connection.type === 'Database' ? await this.#database(connection, m.operation, params) : await this.#cacheOp(m.operation, params)
      if (m.operation === 'close') await this.#closeConnection(m.connection_id, connection)
      reply = { success: true, result: result ?? null }
    } catch (err) {
      reply = { success: false, error: describe(err) }
    }
    const echo = this.#opts.echo === false ? {} : { params: { connection_id: m.connection_id, service_type: m.service_type, operation: m.operation, params: m.params } }
    this.#send({ op: 'service_operation_result', ...reply, ...echo } as OrchestratorMessage)
  }

  async #closeConnection (id: string, connection: Connection): Promise<void> {
    this.#connections.delete(id)
    await Promise.all([...connection.transactions.values()].map(async (t) => { await t.finish(false) }))
  }

  #database (connection: Connection, operation: string, p: Params): Promise<unknown> {
    this.#db ??= createDatabase({ url: this.#opts.databaseUrl === undefined ? 'sqlite::memory:' : this.#opts.databaseUrl as string })
    const db = this.#db
    switch (operation) {
      case 'query': return db.query(String(p.query), sqlParams(p)).then((rows) => rows.map(rowToWire))
      case 'query_one': return db.queryOne(String(p.query), sqlParams(p)).then((row) => row === undefined ? null : rowToWire(row))
      case 'execute': return db.execute(String(p.query), sqlParams(p)).then(executeToWire)
      case 'ping': return db.ping().then(() => true)
      case 'close': return Promise.resolve(true)
      case 'begin_transaction': return this.#begin(db, connection)
      case 'transaction_query': return this.#tx(connection, p).query(String(p.query), sqlParams(p)).then((rows) => rows.map(rowToWire))
      case 'transaction_query_one': return this.#tx(connection, p).queryOne(String(p.query), sqlParams(p)).then((row) => row === undefined ? null : rowToWire(row))
      case 'transaction_execute': return this.#tx(connection, p).execute(String(p.query), sqlParams(p)).then(executeToWire)
      case 'transaction_commit':
      case 'transaction_rollback': {
        const id = String(p.transaction_id)
        const t = this.#transaction(connection, id)
        connection.transactions.delete(id)
        return t.finish(operation === 'transaction_commit').then(() => true)
      }
    }
    return Promise.reject(new Error(`unknown Database operation '${operation}'`))
  }

  /** A transaction of our Database API kept open until commit or rollback: its body waits for the verdict. */
  async #begin (db: Database, connection: Connection): Promise<string> {
    let verdict!: (commit: boolean) => void
    const decided = new Promise<boolean>((resolve) => { verdict = resolve })
    let enter!: (tx: Queryable) => void
    const entered = new Promise<Queryable>((resolve) => { enter = resolve })
    const rollback = new Error('rolled back')
    const ended = db.transaction(async (tx) => {
      enter(tx)
      if (!await decided) throw rollback
    })
    // Rejects when BEGIN (or waiting for the connection) fails; the body cannot end on its own.
    const failed = ended.then(() => new Promise<never>(() => {}))
    failed.catch(() => {})
    const tx = await Promise.race([entered, failed])
    const id = randomUUID()
    connection.transactions.set(id, {
      tx,
      finish: async (commit) => {
        verdict(commit)
        await ended.catch((err: unknown) => { if (err !== rollback) throw err })
      }
    })
    return id
  }

  #transaction (connection: Connection, id: string): Transaction {
    const t = connection.transactions.get(id)
    if (t === undefined) throw new Error(`no open transaction '${id}' on this connection`)
    return t
  }

  #tx (connection: Connection, p: Params): Queryable {
    return this.#transaction(connection, String(p.transaction_id)).tx
  }

  async #cacheOp (operation: string, p: Params): Promise<unknown> {
    this.#cache ??= createBackend({ url: this.#opts.cacheUrl === undefined ? 'memory:' : this.#opts.cacheUrl as string })
    const cache = this.#cache
    const key = String(p.key)
    const value = (): CacheValue => {
      const v = valueFromWire(p.value)
      if (v === undefined) throw new Error('a value is needed')
      return v
    }
    const wire = (v: ReturnType<typeof valueFromWire>): string | null => v === undefined ? null : valueToWire(v)
    const keys = (): string[] => (Array.isArray(p.keys) ? p.keys : []).map(String)
    switch (operation) {
      case 'get': return wire(await cache.reader('', this.#counts)(key))
      case 'set': return await cache.set(key, value(), ttlOf(p), this.#counts).then(() => true)
      case 'set_nx': return await cache.setNx(key, value(), ttlOf(p))
      case 'get_set': return wire(await cache.getSet(key, value(), ttlOf(p)))
      case 'delete': return await cache.delete(key)
      case 'exists': return await cache.has(key)
      case 'increment': return await cache.incr(key, Number(p.delta ?? 1))
      case 'get_many': return (await cache.getMany(keys())).map(wire)
      case 'set_many': {
        const items = (Array.isArray(p.items) ? p.items : []) as Array<{ key: unknown, value: unknown }>
        await cache.setMany(items.map((i) => [String(i.key), valueFromWire(i.value) ?? null]), ttlOf(p))
        return true
      }
      case 'delete_many': return await cache.deleteMany(keys())
      case 'clear': return await cache.clear(String(p.namespace ?? ''))
      case 'flush': return await cache.clear('')
      case 'lock': {
        const token = typeof p.lock_token === 'string' ? p.lock_token : randomUUID()
        return await cache.lock(key, token, ttlOf(p)) ? token : null
      }
      case 'unlock': return await cache.unlock(key, String(p.lock_token))
      case 'extend_lock': return await cache.extend(key, String(p.lock_token), ttlOf(p))
      case 'ping': return await cache.has('pywatt:ping').then(() => true)
      case 'stats': return { ...this.#counts, evictions: cache.evictions() }
      case 'close': return true
    }
    throw new Error(`unknown Cache operation '${operation}'`)
  }
}
