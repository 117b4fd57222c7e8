import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { ERR_PYWATT_MIGRATION } from '../../errors.js'
import type { Dialect } from '../types.js'

/** `001.create-items.sql`, or a dialect's variant `001.create-items.postgres.sql`. */
const FILE_NAME = /^(\d+)\.([^.]+)(?:\.(sqlite|postgres|mysql))?\.sql$/

/** One migration as this dialect runs it. */
export interface MigrationFile {
  version: number
  name: string
  /** The file name (the dialect's variant when there is one). */
  file: string
  sql: string
  /** SHA-256 of the text with CRLF read as LF, hex. */
  checksum: string
}

interface Entry { version: number, name: string, dialect: Dialect | undefined, file: string }

/**
 * Line endings are left out of the checksum: a checkout with Windows line
 * endings is the same migration, and must not refuse the start.
 */
export function checksumOf (text: string): string {
  return createHash('sha256').update(text.replace(/\r\n/g, '\n')).digest('hex')
}

/**
 * The migration files of `dir` (any dialect), by version; a `.sql` file whose
 * name does not fit is refused. Read synchronously: a start reads a few
 * hundred small files at most, and fs/promises' thread-pool round trips made
 * 200 of them take several times as long (longer still on a busy machine).
 */
function entries (dir: string): Entry[] {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch (err) {
    throw new ERR_PYWATT_MIGRATION(`cannot read the migrations directory ${dir}: ${(err as Error).message}`, { cause: err })
  }
  const out: Entry[] = []
  for (const file of names) {
    if (!file.endsWith('.sql')) continue
    const m = FILE_NAME.exec(file)
    if (m === null) throw new ERR_PYWATT_MIGRATION(`${file}: a migration is named NUMBER.NAME.sql or NUMBER.NAME.DIALECT.sql (DIALECT: sqlite, postgres, mysql), NAME without dots`)
    out.push({ version: Number(m[1]), name: m[2] as string, dialect: m[3] as Dialect | undefined, file })
  }
  return out.sort((a, b) => a.version - b.version || a.file.localeCompare(b.file))
}

/** The migrations `dialect` runs, in order: for each number, its variant, else the plain file. */
export function readMigrations (dir: string, dialect: Dialect): MigrationFile[] {
  const absolute = resolve(dir)
  const chosen = new Map<number, Entry>()
  const seen = new Map<string, string>()
  for (const entry of entries(absolute)) {
    // Two files of one number for the same dialect (or both plain) would make the order a guess.
    const slot = `${entry.version}.${entry.dialect ?? ''}`
    const other = seen.get(slot)
    if (other !== undefined) throw new ERR_PYWATT_MIGRATION(`${other} and ${entry.file} have the same number${entry.dialect === undefined ? '' : ` for ${entry.dialect}`}`)
    seen.set(slot, entry.file)
    if (entry.dialect !== undefined && entry.dialect !== dialect) continue
    const current = chosen.get(entry.version)
    if (current === undefined || current.dialect === undefined) chosen.set(entry.version, entry)
  }
  return [...chosen.values()].map((e) => {
    const sql = readFileSync(join(absolute, e.file), 'utf8')
    return { version: e.version, name: e.name, file: e.file, sql, checksum: checksumOf(sql) }
  })
}

/** The name of the next migration file of `dir`: one above the highest number, as wide as the existing ones (at least 3 digits). */
export function nextFileName (dir: string, name: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new ERR_PYWATT_MIGRATION(`'${name}' cannot name a migration: use letters, digits, - and _`)
  const all = entries(resolve(dir))
  const last = all.at(-1)
  const width = Math.max(3, ...all.map((e) => /^\d+/.exec(e.file)?.[0].length ?? 0))
  return `${String((last?.version ?? 0) + 1).padStart(width, '0')}.${name}.sql`
}
