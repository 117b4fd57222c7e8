import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { parseArgs, parseEnv } from 'node:util'
import { secretRegistry } from '../../logging/registry.js'
import { resolveDatabaseConfig } from '../config.js'
import { createDatabase } from '../database.js'
import type { ResolvedDatabaseConfig } from '../types.js'
import { nextFileName } from './files.js'
import { migrate, migrationStatus, type MigrateOptions } from './runner.js'

const USAGE = `Usage: pywatt-db [options] <status | up | new NAME>

Applies a module's SQL migrations outside the module, as the root plugin's
db.migrations option does at start.

  status      each migration: applied, pending, edited since applied, or
              recorded with no file left; exit 1 when one was edited
  up          apply the pending migrations
  new NAME    create the next numbered file, NNN.NAME.sql

The database URL is read as standalone mode reads a secret: the variable named
by --secret (default DATABASE_URL) from the environment or an --env-file.
Without --secret and without DATABASE_URL, the embedded default is used:
SQLite pywatt.sqlite under PYWATT_DATA_DIR (default ./data).

Options:
  --dir <dir>           the migrations directory (default ./migrations)
  --secret <NAME>       the variable holding the database URL
  --env-file <file>     variables in .env format (win over the environment); repeatable
  --table <name>        the table recording migrations (default pywatt_migrations)
  -h, --help            this text
`

const DEFAULT_SECRET = 'DATABASE_URL'

/** Where the commands connect, said without the password. */
function describe (config: ResolvedDatabaseConfig): string {
  if (config.dialect === 'sqlite') return `sqlite ${config.filename}`
  return `${config.dialect} ${config.user}@${config.host}:${config.port}/${config.database}`
}

/**
 * Run the `pywatt-db` command line; resolves with the exit code (0, 1 when
 * the command failed, 2 for a usage error). Every line goes through the
 * log scrubber: the URL's password is registered when it is parsed.
 */
export async function runDbCli (argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const say = (line: string): void => { out.write(secretRegistry.scrub(line) + '\n') }
  const fail = (line: string, code: number): number => {
    err.write(secretRegistry.scrub(`pywatt-db: ${line}`) + '\n')
    return code
  }
  let values: { dir?: string, secret?: string, 'env-file'?: string[], table?: string, help?: boolean }
  let positionals: string[]
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        dir: { type: 'string' },
        secret: { type: 'string' },
        'env-file': { type: 'string', multiple: true },
        table: { type: 'string' },
        help: { type: 'boolean', short: 'h' }
      }
    }))
  } catch (e) {
    return fail(`${(e as Error).message}\n${USAGE}`, 2)
  }
  if (values.help === true) {
    out.write(USAGE)
    return 0
  }
  const [command, ...args] = positionals
  const dir = resolve(values.dir ?? 'migrations')
  if (command === 'new') {
    if (args.length !== 1) return fail(`new takes one NAME\n${USAGE}`, 2)
    try {
      await mkdir(dir, { recursive: true })
      const file = join(dir, nextFileName(dir, args[0] as string))
      await writeFile(file, `-- ${args[0]}\n`, { flag: 'wx' })
      say(file)
      return 0
    } catch (e) {
      return fail((e as Error).message, 1)
    }
  }
  if ((command !== 'status' && command !== 'up') || args.length > 0) return fail(`unknown command '${positionals.join(' ')}'\n${USAGE}`, 2)

  const vars: Record<string, string | undefined> = { ...env }
  try {
    for (const file of values['env-file'] ?? []) Object.assign(vars, parseEnv(await readFile(file, 'utf8')))
  } catch (e) {
    return fail((e as Error).message, 2)
  }
  const name = values.secret ?? DEFAULT_SECRET
  const url = vars[name]
  if (url === undefined && values.secret !== undefined) return fail(`${name} is not set (in the environment or an --env-file)`, 2)
  const options: MigrateOptions = { dir, ...(values.table === undefined ? {} : { table: values.table }) }
  try {
    const settings = url === undefined ? {} : { url }
    const config = resolveDatabaseConfig(settings, { ...env, ...vars })
    say(`database: ${describe(config)}${url === undefined ? ` (embedded default: ${name} is not set)` : ` (from ${name})`}`)
    const db = createDatabase({ ...settings, ...(url === undefined ? { filename: config.filename } : {}) })
    try {
      if (command === 'up') {
        const { applied } = await migrate(db, options)
        for (const file of applied) say(`applied ${file}`)
        say(applied.length === 0 ? 'up to date: nothing to apply' : `${applied.length} migration(s) applied`)
        return 0
      }
      const states = await migrationStatus(db, options)
      for (const s of states) say(`${String(s.version).padStart(4)}  ${s.state.padEnd(8)}  ${s.file}${s.appliedAt === undefined ? '' : `  ${s.appliedAt}`}`)
      const count = (state: string): number => states.filter((s) => s.state === state).length
      say(`${count('applied')} applied, ${count('pending')} pending${count('edited') > 0 ? `, ${count('edited')} edited since applied` : ''}${count('no file') > 0 ? `, ${count('no file')} recorded without a file` : ''}`)
      return count('edited') > 0 ? 1 : 0
    } finally {
      await db.close()
    }
  } catch (e) {
    return fail((e as Error).message, 1)
  }
}
