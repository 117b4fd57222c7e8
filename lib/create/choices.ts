/** What a generated module uses; the generator's flags and prompts fill it in. */
export const DATABASES = ['sqlite', 'postgres', 'mysql', 'none'] as const
export const CACHES = ['memory', 'redis', 'memcached', 'none'] as const

export type Database = typeof DATABASES[number]
export type CacheKind = typeof CACHES[number]

export interface Choices {
  /** The npm package name, also the directory's name by default. */
  name: string
  db: Database
  cache: CacheKind
  jwt: boolean
  /** HTTP over IPC (`fastify-pywatt/ipc-http`): the orchestrator may forward requests over stdin/stdout. */
  ipc: boolean
  metrics: boolean
  /** A `migrations/` directory applied at start; only with a database. */
  migrations: boolean
  typescript: boolean
}

/** The choices `--yes` takes: embedded SQLite, in-memory cache, JWT, metrics and migrations, TypeScript. */
export const DEFAULT_CHOICES: Omit<Choices, 'name'> = {
  db: 'sqlite',
  cache: 'memory',
  jwt: true,
  ipc: false,
  metrics: true,
  migrations: true,
  typescript: true
}

/** Versions the generated package.json asks for: the generator's own package and what it was tested with. */
export interface Versions {
  /** The `fastify-pywatt` dependency: a range, or a `file:` tarball in tests. */
  pywatt: string
  fastify: string
  typescript: string
  typesNode: string
  pg: string
  /** `fastify.pg` and `fastify.redis`: the root plugin registers them over its own pool and client by default. */
  fastifyPostgres: string
  fastifyRedis: string
  mysql2: string
  ioredis: string
  memjs: string
  typesPg: string
  typesMemjs: string
}

const NAME = /^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/

/** Why `name` is not a valid npm package name, or `undefined` when it is. */
export function invalidName (name: string): string | undefined {
  if (name.length === 0 || name.length > 214) return 'a package name has 1 to 214 characters'
  if (!NAME.test(name)) return 'a package name is lower case: letters, digits, and - . _ ~ (optionally @scope/)'
  return undefined
}

/** Every combination of choices the generator can render (migrations only with a database). */
export function everyCombination (name = 'my-module'): Choices[] {
  const all: Choices[] = []
  for (const db of DATABASES) {
    for (const cache of CACHES) {
      for (const jwt of [true, false]) {
        for (const ipc of [true, false]) {
          for (const metrics of [true, false]) {
            for (const migrations of db === 'none' ? [false] : [true, false]) {
              for (const typescript of [true, false]) all.push({ name, db, cache, jwt, ipc, metrics, migrations, typescript })
            }
          }
        }
      }
    }
  }
  return all
}
