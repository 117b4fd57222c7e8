import { cancel, confirm, isCancel, select, text } from '@clack/prompts'
import { DEFAULT_CHOICES, invalidName, type CacheKind, type Choices, type Database } from './choices.js'

/** Thrown when the user cancels a prompt (Ctrl-C, Escape). */
export class Cancelled extends Error {}

function answer<T> (value: T): Exclude<T, symbol> {
  if (isCancel(value)) {
    cancel('Cancelled: nothing was written.')
    throw new Cancelled('cancelled')
  }
  return value as Exclude<T, symbol>
}

/** Ask, on a terminal, for what the flags left open. */
export async function askChoices (directory: string | undefined, given: Partial<Omit<Choices, 'name'>>): Promise<{ directory: string, choices: Omit<Choices, 'name'> }> {
  const dir = directory ?? answer(await text({
    message: 'Where should the module go?',
    placeholder: 'my-module',
    defaultValue: 'my-module',
    validate: (v) => v === undefined || v === '' ? undefined : invalidName(v.split('/').at(-1) ?? v)
  }))
  const db = given.db ?? answer(await select<Database>({
    message: 'Database',
    initialValue: DEFAULT_CHOICES.db,
    options: [
      { value: 'sqlite', label: 'SQLite', hint: 'embedded, no server' },
      { value: 'postgres', label: 'PostgreSQL', hint: 'pg' },
      { value: 'mysql', label: 'MySQL / MariaDB', hint: 'mysql2' },
      { value: 'none', label: 'None' }
    ]
  }))
  const cache = given.cache ?? answer(await select<CacheKind>({
    message: 'Cache',
    initialValue: DEFAULT_CHOICES.cache,
    options: [
      { value: 'memory', label: 'In memory', hint: 'LRU, no server' },
      { value: 'redis', label: 'Redis', hint: 'ioredis' },
      { value: 'memcached', label: 'Memcached', hint: 'memjs' },
      { value: 'none', label: 'None' }
    ]
  }))
  const yesNo = async (flag: 'jwt' | 'ipc' | 'metrics' | 'migrations', message: string): Promise<boolean> =>
    given[flag] ?? answer(await confirm({ message, initialValue: DEFAULT_CHOICES[flag] }))
  const jwt = await yesNo('jwt', 'JWT auth (a protected GET /me)?')
  const ipc = await yesNo('ipc', 'HTTP over IPC (requests forwarded over stdin/stdout)?')
  const metrics = await yesNo('metrics', 'Prometheus metrics (GET /metrics)?')
  const migrations = db === 'none' ? false : await yesNo('migrations', 'Database migrations (migrations/, applied at start)?')
  const typescript = given.typescript ?? answer(await select<boolean>({
    message: 'Language',
    initialValue: true,
    options: [{ value: true, label: 'TypeScript' }, { value: false, label: 'JavaScript' }]
  }))
  return { directory: dir, choices: { db, cache, jwt, ipc, metrics, migrations, typescript } }
}
