import { parseArgs } from 'node:util'
import { CACHES, DATABASES, type CacheKind, type Choices, type Database } from './choices.js'

export const USAGE = `Usage: create-pywatt-module [directory] [options]

Writes a new PyWatt module (Fastify + fastify-pywatt) into <directory>, then
installs its dependencies. On a terminal it asks for what the flags leave open;
--yes (or no terminal) takes the defaults for the rest.

Options:
  --db <sqlite|postgres|mysql|none>          database (default sqlite)
  --cache <memory|redis|memcached|none>      cache (default memory)
  --jwt, --no-jwt                            JWT auth on GET /me (default on)
  --ipc, --no-ipc                            HTTP over IPC (default off)
  --metrics, --no-metrics                    GET /metrics for Prometheus (default on)
  --migrations, --no-migrations              a migrations/ directory (default on with a database)
  --js                                       JavaScript instead of TypeScript
  --yes, -y                                  ask nothing: defaults for what the flags leave open
  --force                                    write into a directory that is not empty
  --no-install                               do not run npm install
  --pywatt <spec>                            the fastify-pywatt dependency (default ^<this version>;
                                             a tarball path to try an unpublished build)
  -h, --help                                 this text
`

/** The command line, parsed: what the flags decide (the rest is asked or defaulted). */
export interface CreateArgs {
  help: boolean
  directory: string | undefined
  choices: Partial<Omit<Choices, 'name'>>
  yes: boolean
  force: boolean
  install: boolean
  pywatt: string | undefined
}

function oneOf<T extends string> (flag: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined
  if (!(allowed as readonly string[]).includes(value)) throw new TypeError(`--${flag} must be one of ${allowed.join(', ')}`)
  return value as T
}

/** Parse argv (without node and the script); throws a TypeError that names the bad flag. */
export function parseCreateArgs (argv: string[]): CreateArgs {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    allowNegative: true,
    options: {
      db: { type: 'string' },
      cache: { type: 'string' },
      jwt: { type: 'boolean' },
      ipc: { type: 'boolean' },
      metrics: { type: 'boolean' },
      migrations: { type: 'boolean' },
      js: { type: 'boolean' },
      yes: { type: 'boolean', short: 'y' },
      force: { type: 'boolean' },
      install: { type: 'boolean' },
      pywatt: { type: 'string' },
      help: { type: 'boolean', short: 'h' }
    }
  })
  if (positionals.length > 1) throw new TypeError(`one directory, not ${positionals.length}`)
  const db = oneOf<Database>('db', values.db, DATABASES)
  if (db === 'none' && values.migrations === true) throw new TypeError('--migrations needs a database')
  const choices: CreateArgs['choices'] = {}
  if (db !== undefined) choices.db = db
  const cache = oneOf<CacheKind>('cache', values.cache, CACHES)
  if (cache !== undefined) choices.cache = cache
  for (const flag of ['jwt', 'ipc', 'metrics', 'migrations'] as const) {
    if (values[flag] !== undefined) choices[flag] = values[flag]
  }
  if (values.js !== undefined) choices.typescript = !values.js
  return {
    help: values.help === true,
    directory: positionals[0],
    choices,
    yes: values.yes === true,
    force: values.force === true,
    install: values.install !== false,
    pywatt: values.pywatt
  }
}
