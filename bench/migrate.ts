import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createDatabase, type Database, type DatabaseOptions } from '../lib/db/index.js'
import { median, ms, type Row, type Section } from './report.js'

/**
 * What already-applied migrations add to a start: opening the database and
 * checking 200 recorded migrations (`db.migrate`, as the `db.migrations`
 * option runs it) against opening it and answering one `SELECT 1` (`ping`),
 * the least a start that uses the database does. Both sides open a new
 * pool, so connecting is on both; the difference is reading and hashing the
 * files and reading the records. Rounds alternate the sides; the budget is
 * 50 ms added. A server that is not reachable is reported and skipped.
 */
const FILES = 200
const ROUNDS = 15
const BUDGET_MS = 50

const BACKENDS: Array<{ name: string, options: (dir: string) => DatabaseOptions }> = [
  { name: 'sqlite', options: (dir) => ({ url: `sqlite:${join(dir, 'bench.sqlite')}` }) },
  { name: 'postgres', options: () => ({ url: 'postgres://postgres@127.0.0.1:5432/test' }) },
  { name: 'mariadb', options: () => ({ url: 'mysql://root@127.0.0.1:3306/test' }) }
]

async function timed (options: DatabaseOptions, work: (db: Database) => Promise<unknown>): Promise<number> {
  const start = performance.now()
  const db = createDatabase(options)
  try {
    await work(db)
  } finally {
    await db.close()
  }
  return performance.now() - start
}

export const migrateBench: Section = {
  name: 'migrate',
  async run ({ log }) {
    const dir = mkdtempSync(join(tmpdir(), 'pywatt-bench-migrate-'))
    const migrations = join(dir, 'migrations')
    const table = `pwbench_migrations_${process.pid}`
    const rows: Row[] = []
    try {
      mkdirSync(migrations)
      // Applying is not measured, only checking what is recorded: each file can be trivial.
      for (let i = 1; i <= FILES; i++) {
        writeFileSync(join(migrations, `${String(i).padStart(3, '0')}.step-${i}.sql`), `-- step ${i}\nSELECT ${i};\n`)
      }
      for (const backend of BACKENDS) {
        const options = backend.options(dir)
        const setup = createDatabase(options)
        try {
          await setup.migrate({ dir: migrations, table })
        } catch (err) {
          log(`${backend.name}: skipped (${(err as Error).message})`)
          await setup.close()
          continue
        }
        await setup.close()
        const ping: number[] = []
        const check: number[] = []
        try {
          for (let r = 0; r < ROUNDS; r++) {
            const pingFirst = r % 2 === 0
            if (pingFirst) ping.push(await timed(options, (db) => db.ping()))
            check.push(await timed(options, async (db) => {
              const { applied } = await db.migrate({ dir: migrations, table })
              if (applied.length !== 0) throw new Error('the migrations were not all recorded')
            }))
            if (!pingFirst) ping.push(await timed(options, (db) => db.ping()))
          }
        } finally {
          const cleanup = createDatabase(options)
          await cleanup.execute(`DROP TABLE IF EXISTS ${table}`).finally(() => cleanup.close())
        }
        const added = median(check) - median(ping)
        log(`${backend.name}: open + ping ${ms(median(ping))}, open + check ${FILES} applied ${ms(median(check))}: adds ${ms(added)} (budget ${BUDGET_MS} ms)`)
        rows.push({
          name: `${FILES} applied migrations (${backend.name})`,
          detail: `adds ${ms(added)} to a start (budget ${BUDGET_MS} ms)`,
          // Added time against the budget: at or under 1.00x is within it.
          ratio: added / BUDGET_MS,
          target: { op: '<=', value: 1 }
        })
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
    return rows
  }
}
