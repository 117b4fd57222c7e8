import type { Dialect, Session } from '../types.js'

/** How a dialect records migrations and keeps two processes from applying one twice. */
export interface MigrationSql {
  createTable: (table: string) => string
  /** Opens the transaction of one migration; on SQLite it also takes the database's write lock. */
  begin: string
  /** Take the session-level lock within `timeout` ms; false when another session held it that long. */
  lock: (session: Session, table: string, timeout: number) => Promise<boolean>
  unlock: (session: Session, table: string) => Promise<void>
}

/** The lock's key is the table's schema-qualified name: two schemas of one database migrate independently. */
const PG_KEY = "hashtext(CASE WHEN strpos($1::text, '.') > 0 THEN $1::text ELSE current_schema() || '.' || $1::text END)"
/** GET_LOCK names are server-wide and at most 64 characters: the database and table, hashed. */
const MYSQL_NAME = "CONCAT('pywatt-migrations:', LEFT(SHA2(CONCAT(COALESCE(DATABASE(), ''), '.', ?), 256), 40))"
/** PostgreSQL's code for a lock not had within `lock_timeout`. */
const LOCK_NOT_AVAILABLE = '55P03'

const postgres: MigrationSql = {
  createTable: (t) => `CREATE TABLE IF NOT EXISTS ${t} (version BIGINT PRIMARY KEY, name TEXT NOT NULL, file TEXT NOT NULL, checksum CHAR(64) NOT NULL, applied_at TEXT NOT NULL)`,
  begin: 'BEGIN',
  async lock (session, table, timeout) {
    const previous = await session.queryOne<{ value: string }>("SELECT current_setting('lock_timeout') AS value, set_config('lock_timeout', $1, false)", [`${timeout}ms`])
    try {
      await session.query(`SELECT pg_advisory_lock(${PG_KEY})`, [table])
      return true
    } catch (err) {
      if ((err as { cause?: { code?: unknown } }).cause?.code === LOCK_NOT_AVAILABLE) return false
      throw err
    } finally {
      await session.query("SELECT set_config('lock_timeout', $1, false)", [previous?.value ?? '0'])
    }
  },
  async unlock (session, table) {
    await session.query(`SELECT pg_advisory_unlock(${PG_KEY})`, [table])
  }
}

const mysql: MigrationSql = {
  createTable: (t) => `CREATE TABLE IF NOT EXISTS ${t} (version BIGINT PRIMARY KEY, name VARCHAR(255) NOT NULL, file VARCHAR(255) NOT NULL, checksum CHAR(64) NOT NULL, applied_at VARCHAR(32) NOT NULL)`,
  // DDL commits implicitly on MySQL/MariaDB: a failed file's statements before the failure stay.
  begin: 'START TRANSACTION',
  async lock (session, table, timeout) {
    const row = await session.queryOne<{ locked: number | null }>(`SELECT GET_LOCK(${MYSQL_NAME}, ?) AS locked`, [table, Math.ceil(timeout / 1000)])
    return row?.locked === 1
  },
  async unlock (session, table) {
    await session.query(`SELECT RELEASE_LOCK(${MYSQL_NAME})`, [table])
  }
}

const sqlite: MigrationSql = {
  createTable: (t) => `CREATE TABLE IF NOT EXISTS ${t} (version INTEGER PRIMARY KEY, name TEXT NOT NULL, file TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)`,
  // The write lock from the start: another process's migration waits (busy timeout) instead of interleaving.
  begin: 'BEGIN IMMEDIATE',
  // One writer at a time is SQLite's own rule: each migration's BEGIN IMMEDIATE is the lock.
  lock: async () => true,
  unlock: async () => {}
}

export const MIGRATION_SQL: Readonly<Record<Dialect, MigrationSql>> = { postgres, mysql, sqlite }
