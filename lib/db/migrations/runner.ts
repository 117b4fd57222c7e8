import { ERR_PYWATT_MIGRATION } from '../../errors.js'
import type { Dialect, Session } from '../types.js'
import { MIGRATION_SQL } from './dialect.js'
import { readMigrations, type MigrationFile } from './files.js'

/** Options of `db.migrate()`. */
export interface MigrateOptions {
  /** The directory of the migration files (relative to the working directory). */
  dir: string
  /** The table that records the applied migrations (default `pywatt_migrations`; PostgreSQL: `schema.table` allowed). */
  table?: string
  /**
   * Milliseconds to wait for another process's migrations to finish before
   * refusing (default 60 000; MySQL counts whole seconds). SQLite waits for
   * its write lock as for any statement, up to `pool.acquireTimeout`.
   */
  lockTimeout?: number
}

/** What `db.migrate()` did. */
export interface MigrationResult {
  /** The files applied by this call, in order (empty when every one was already recorded). */
  applied: string[]
}

/** One migration as `pywatt-db status` reports it. */
export interface MigrationState {
  version: number
  name: string
  file: string
  /** `edited`: applied, and the file changed since; `no file`: recorded, and no file of that number is left. */
  state: 'applied' | 'pending' | 'edited' | 'no file'
  appliedAt?: string
}

/** What the runner needs of a database: `Database` itself. */
export interface MigrationTarget {
  readonly dialect: Dialect
  session: <R>(body: (session: Session) => Promise<R>) => Promise<R>
}

interface Recorded { version: number | string, name: string, file: string, checksum: string, applied_at: string }

export const DEFAULT_TABLE = 'pywatt_migrations'
export const DEFAULT_LOCK_TIMEOUT = 60_000
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/

function settings (options: MigrateOptions): Required<MigrateOptions> {
  const table = options.table ?? DEFAULT_TABLE
  // Spliced into SQL: only a plain (optionally schema-qualified) identifier.
  if (!IDENTIFIER.test(table)) throw new ERR_PYWATT_MIGRATION(`'${table}' is not a usable table name (letters, digits, _; schema.table allowed)`)
  const lockTimeout = options.lockTimeout ?? DEFAULT_LOCK_TIMEOUT
  // 0 would mean "wait for ever" to PostgreSQL's lock_timeout and "do not wait" to GET_LOCK.
  if (!Number.isInteger(lockTimeout) || lockTimeout < 1) throw new ERR_PYWATT_MIGRATION('lockTimeout must be a positive integer (milliseconds)')
  return { dir: options.dir, table, lockTimeout }
}

/** The recorded migrations by version; `null` when the table does not exist yet (or cannot be read: the locked path finds out which). */
async function recorded (session: Session, table: string): Promise<Map<number, Recorded> | null> {
  let rows: Recorded[]
  try {
    rows = await session.query<Recorded>(`SELECT version, name, file, checksum, applied_at FROM ${table}`)
  } catch {
    return null
  }
  return new Map(rows.map((r) => [Number(r.version), r]))
}

/** Refuse a recorded migration whose file now reads differently. */
function check (file: MigrationFile, row: Recorded | undefined): void {
  if (row === undefined || row.checksum.trim() === file.checksum) return
  const was = row.file === file.file ? '' : ` (applied from ${row.file})`
  throw new ERR_PYWATT_MIGRATION(`${file.file} was edited after it was applied${was}: its checksum is ${file.checksum.slice(0, 12)}…, the recorded one ${row.checksum.slice(0, 12)}…; put the change in a new migration`)
}

/** False when the text is only comments and blanks; a statement leaves a word outside them whatever its strings hold. */
function hasStatements (sql: string): boolean {
  return sql.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(--|#)[^\n]*/g, '').trim() !== ''
}

/** Apply one file in its own transaction with its record; false when another process recorded it meanwhile. */
async function apply (session: Session, dialect: Dialect, table: string, file: MigrationFile): Promise<boolean> {
  const sql = MIGRATION_SQL[dialect]
  const p = (n: number): string => dialect === 'postgres' ? `$${n}` : '?'
  await session.exec(sql.begin)
  try {
    // Under the lock already, except on SQLite, whose lock is this transaction.
    const row = await session.queryOne<Recorded>(`SELECT version, name, file, checksum, applied_at FROM ${table} WHERE version = ${p(1)}`, [file.version])
    if (row !== undefined) {
      check(file, row)
      await session.exec('ROLLBACK')
      return false
    }
    try {
      // MySQL refuses a query of comments only ("Query was empty"): a file just made by `pywatt-db new`.
      if (hasStatements(file.sql)) await session.exec(file.sql)
    } catch (err) {
      throw new ERR_PYWATT_MIGRATION(`${file.file} failed: ${(err as Error).message}`, { cause: err })
    }
    await session.execute(`INSERT INTO ${table} (version, name, file, checksum, applied_at) VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)})`,
      [file.version, file.name, file.file, file.checksum, new Date().toISOString()])
    await session.exec('COMMIT')
    return true
  } catch (err) {
    await session.exec('ROLLBACK').catch(() => {})
    throw err
  }
}

/**
 * Apply the pending migrations of `options.dir`. Every file is checked
 * against its record first, without a lock: with nothing pending (a
 * restart) that is one query. Otherwise the dialect's lock is taken and
 * the records read again under it, so that of two processes starting at
 * once, one applies and the other finds the records.
 */
export async function migrate (db: MigrationTarget, options: MigrateOptions): Promise<MigrationResult> {
  const { dir, table, lockTimeout } = settings(options)
  const files = readMigrations(dir, db.dialect)
  const sql = MIGRATION_SQL[db.dialect]
  return await db.session(async (session) => {
    const before = await recorded(session, table)
    if (before !== null) {
      for (const file of files) check(file, before.get(file.version))
      if (files.every((f) => before.has(f.version))) return { applied: [] }
    }
    if (!await sql.lock(session, table, lockTimeout)) {
      throw new ERR_PYWATT_MIGRATION(`another process held the migration lock of ${table} for ${lockTimeout} ms (lockTimeout)`)
    }
    try {
      await session.execute(sql.createTable(table))
      const now = await recorded(session, table) ?? new Map<number, Recorded>()
      for (const file of files) check(file, now.get(file.version))
      const applied: string[] = []
      for (const file of files) {
        if (!now.has(file.version) && await apply(session, db.dialect, table, file)) applied.push(file.file)
      }
      return { applied }
    } finally {
      await sql.unlock(session, table)
    }
  })
}

/** Each migration of `options.dir` and each record, and where it stands; nothing is created or applied. */
export async function migrationStatus (db: MigrationTarget, options: MigrateOptions): Promise<MigrationState[]> {
  const { dir, table } = settings(options)
  const files = readMigrations(dir, db.dialect)
  const rows = await db.session((session) => recorded(session, table)) ?? new Map<number, Recorded>()
  const out: MigrationState[] = files.map((f) => {
    const row = rows.get(f.version)
    if (row === undefined) return { version: f.version, name: f.name, file: f.file, state: 'pending' }
    return { version: f.version, name: f.name, file: f.file, state: row.checksum.trim() === f.checksum ? 'applied' : 'edited', appliedAt: row.applied_at }
  })
  const known = new Set(files.map((f) => f.version))
  for (const [version, row] of rows) {
    if (!known.has(version)) out.push({ version, name: row.name, file: row.file, state: 'no file', appliedAt: row.applied_at })
  }
  return out.sort((a, b) => a.version - b.version)
}
