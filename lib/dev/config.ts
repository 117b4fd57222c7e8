import { randomUUID } from 'node:crypto'
import { createRequire } from 'node:module'
import { existsSync, readFileSync } from 'node:fs'
import { rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, dirname, extname, join, resolve } from 'node:path'
import { parseEnv } from 'node:util'
import { pathToFileURL } from 'node:url'
import { Type, type Static } from '#typebox'
import { checkOptions } from '../check-options.js'
import { ERR_PYWATT_DEV_CONFIG, ERR_PYWATT_INVALID_OPTIONS } from '../errors.js'
import { isMissing, loadPackage } from '../runtime/lazy-package.js'

/** The file `pywatt-dev` reads from its working directory when given neither `--config` nor a command. */
export const DEFAULT_CONFIG_FILE = 'pywatt.dev.json'

const Name = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$', maxLength: 64 })
const Mount = Type.String({ pattern: '^/[^?#]*[^/?#]$' })
const Millis = Type.Integer({ minimum: 0 })

const ModuleSchema = Type.Object({
  /** The module id (`init.module_id`), the name in console commands and log prefixes. */
  name: Name,
  /** The command: an array of program and arguments, or a string split on spaces. */
  command: Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String(), { minItems: 1 })]),
  /** Working directory (default: the config file's). */
  cwd: Type.Optional(Type.String({ minLength: 1 })),
  /** Secrets in .env format, read at each start. */
  envFile: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }))])),
  /** Secrets given inline (over the env files). */
  secrets: Type.Optional(Type.Record(Type.String(), Type.String())),
  /** Extra environment variables of the module process (not secrets). */
  env: Type.Optional(Type.Record(Type.String(), Type.String())),
  /** `init.listen` (default 127.0.0.1 on a free port). */
  listen: Type.Optional(Type.String({ minLength: 1 })),
  /** Channels offered in Init: TCP on 127.0.0.1, a Unix socket at a path. */
  channels: Type.Optional(Type.Object({
    tcp: Type.Optional(Type.Boolean()),
    unix: Type.Optional(Type.String({ minLength: 1 })),
    required: Type.Optional(Type.Boolean())
  }, { additionalProperties: false })),
  /** How the gateway reaches the module: its announced address (default), stdio, or a channel. */
  via: Type.Optional(Type.Union([Type.Literal('http'), Type.Literal('stdio'), Type.Literal('tcp'), Type.Literal('unix')])),
  /** Requests under this path go to this module, with the prefix stripped. */
  mount: Type.Optional(Mount),
  /** This module's Database service (over the global `databaseUrl`). */
  databaseUrl: Type.Optional(Type.String({ minLength: 1 })),
  /** This module's Cache service (over the global `cacheUrl`). */
  cacheUrl: Type.Optional(Type.String({ minLength: 1 }))
}, { additionalProperties: false })

/** The `pywatt-dev` config file. */
export const DevConfigSchema = Type.Object({
  modules: Type.Array(ModuleSchema, { minItems: 1 }),
  /** Port of the gateway (default 8080, 0 = any free port). */
  gatewayPort: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
  /** Heartbeat interval in milliseconds (default 5000, 0 = off). */
  heartbeat: Type.Optional(Millis),
  /** Seconds after a start without announce before saying so (default 10, 0 = never). */
  announceTimeout: Type.Optional(Type.Number({ minimum: 0 })),
  /** The database behind every module's Database service (default sqlite:pywatt-dev.sqlite). */
  databaseUrl: Type.Optional(Type.String({ minLength: 1 })),
  /** The cache behind every module's Cache service (default memory:, one per module). */
  cacheUrl: Type.Optional(Type.String({ minLength: 1 })),
  /** Results of service operations echo the operation (default true). */
  serviceEcho: Type.Optional(Type.Boolean()),
  /** How a module that exits on its own is restarted. */
  restart: Type.Optional(Type.Object({
    /** First delay (default 500 ms), doubled at each crash in the window. */
    initialDelay: Type.Optional(Millis),
    /** Cap of one delay (default 10 000 ms). */
    maxDelay: Type.Optional(Millis),
    /** Crashes within `window` after which the module is left stopped (default 5). */
    maxCrashes: Type.Optional(Type.Integer({ minimum: 1 })),
    /** The window, in milliseconds (default 60 000). */
    window: Type.Optional(Type.Integer({ minimum: 1 }))
  }, { additionalProperties: false }))
}, { additionalProperties: false })

/** A `pywatt-dev` config, as written. */
export type DevConfig = Static<typeof DevConfigSchema>

/** One module of a config, as written. */
export type DevModuleConfig = DevConfig['modules'][number]

/** Type a config file (`pywatt.dev.ts`): `export default defineDevConfig({ modules: [...] })`. */
export function defineDevConfig (config: DevConfig): DevConfig {
  return config
}

/** How a module that exits on its own is restarted (every field set). */
export interface RestartPolicy {
  initialDelay: number
  maxDelay: number
  maxCrashes: number
  window: number
}

/** One module with its paths resolved and defaults applied. */
export interface DevModuleSpec {
  name: string
  command: string
  args: string[]
  cwd: string
  envFiles: string[]
  secrets: Record<string, string>
  env: Record<string, string>
  listen?: string
  tcpChannel: boolean
  unixChannel?: string
  channelRequired: boolean
  via: 'http' | 'stdio' | 'tcp' | 'unix'
  mount?: string
  databaseUrl: string
  cacheUrl: string
}

/** A config with paths resolved against its file's directory and defaults applied. */
export interface ResolvedDevConfig {
  file: string | null
  modules: DevModuleSpec[]
  gatewayPort: number
  heartbeat: number
  announceTimeout: number
  serviceEcho: boolean
  restart: RestartPolicy
}

function invalid (file: string | null, message: string, cause?: unknown): Error {
  return new ERR_PYWATT_DEV_CONFIG(`${file ?? 'config'}: ${message}`, { cause })
}

/**
 * Check a config (TypeBox, then what a schema cannot say: unique names,
 * mounts and sockets) and resolve it against `dir`.
 *
 * @throws ERR_PYWATT_DEV_CONFIG naming the key at fault
 */
export function resolveDevConfig (config: unknown, dir: string, file: string | null = null): ResolvedDevConfig {
  try {
    checkOptions(DevConfigSchema, config)
  } catch (err) {
    if (!(err instanceof ERR_PYWATT_INVALID_OPTIONS)) throw err
    throw invalid(file, (err as Error).message.replace(/^Invalid fastify-pywatt options: /, ''))
  }
  const seen = { name: new Map<string, number>(), mount: new Map<string, number>(), unix: new Map<string, number>() }
  const unique = (kind: keyof typeof seen, value: string | undefined, i: number): void => {
    if (value === undefined) return
    const first = seen[kind].get(value)
    if (first !== undefined) throw invalid(file, `modules.${i}.${kind === 'unix' ? 'channels.unix' : kind}: '${value}' is already modules.${first}'s`)
    seen[kind].set(value, i)
  }
  const modules = config.modules.map((m, i): DevModuleSpec => {
    const [command, ...args] = Array.isArray(m.command) ? m.command : m.command.trim().split(/\s+/)
    if (command === undefined || command === '') throw invalid(file, `modules.${i}.command: no program`)
    const cwd = resolve(dir, m.cwd ?? '.')
    const via = m.via ?? 'http'
    const unixChannel = m.channels?.unix === undefined ? undefined : resolve(dir, m.channels.unix)
    if (via === 'unix' && unixChannel === undefined) throw invalid(file, `modules.${i}.via: 'unix' needs modules.${i}.channels.unix (the socket path)`)
    unique('name', m.name, i)
    unique('mount', m.mount, i)
    unique('unix', unixChannel, i)
    const envFiles = m.envFile === undefined ? [] : (Array.isArray(m.envFile) ? m.envFile : [m.envFile]).map((f) => resolve(dir, f))
    const spec: DevModuleSpec = {
      name: m.name,
      command,
      args,
      cwd,
      envFiles,
      secrets: m.secrets ?? {},
      env: m.env ?? {},
      tcpChannel: m.channels?.tcp === true || via === 'tcp',
      channelRequired: m.channels?.required === true,
      via,
      databaseUrl: m.databaseUrl ?? config.databaseUrl ?? 'sqlite:pywatt-dev.sqlite',
      cacheUrl: m.cacheUrl ?? config.cacheUrl ?? 'memory:'
    }
    if (m.listen !== undefined) spec.listen = m.listen
    if (unixChannel !== undefined) spec.unixChannel = unixChannel
    if (m.mount !== undefined) spec.mount = m.mount
    return spec
  })
  return {
    file,
    modules,
    gatewayPort: config.gatewayPort ?? 8080,
    heartbeat: config.heartbeat ?? 5000,
    announceTimeout: config.announceTimeout ?? 10,
    serviceEcho: config.serviceEcho ?? true,
    restart: {
      initialDelay: config.restart?.initialDelay ?? 500,
      maxDelay: config.restart?.maxDelay ?? 10_000,
      maxCrashes: config.restart?.maxCrashes ?? 5,
      window: config.restart?.window ?? 60_000
    }
  }
}

interface TypeScriptCompiler {
  transpileModule: (input: string, options: { compilerOptions: Record<string, unknown>, fileName?: string }) => { outputText: string }
}

/** The `typescript` package of the project the config lives in, else one this package can reach. */
function typescript (file: string): TypeScriptCompiler {
  try {
    return createRequire(file)('typescript') as TypeScriptCompiler
  } catch (err) {
    if (!isMissing(err, 'typescript')) throw err
  }
  return loadPackage<TypeScriptCompiler>('typescript', {
    neededBy: `the TypeScript config ${file}`,
    error: ERR_PYWATT_DEV_CONFIG,
    otherwise: 'or write the config as pywatt.dev.json'
  })
}

/**
 * A `.ts` config as JavaScript. Node 20 cannot import TypeScript, so the
 * user's own `typescript` package transpiles it (loaded only for a .ts config).
 */
function transpile (file: string, source: string): string {
  const ts = typescript(file)
  // ESNext module kind and target, spelled as the numbers of TypeScript's enums (stable since 4.x).
  return ts.transpileModule(source, { fileName: file, compilerOptions: { module: 99, target: 99, verbatimModuleSyntax: false } }).outputText
}

/** The default export of a JavaScript or TypeScript config file. */
async function importConfig (file: string): Promise<unknown> {
  const ext = extname(file)
  if (ext === '.js' || ext === '.mjs') return ((await import(pathToFileURL(file).href)) as { default: unknown }).default
  const js = transpile(file, readFileSync(file, 'utf8'))
  // Beside the config, so that its relative imports resolve; removed at once.
  let out = join(dirname(file), `.${basename(file)}.${randomUUID()}.mjs`)
  try {
    await writeFile(out, js)
  } catch {
    out = join(tmpdir(), `pywatt-dev-config-${randomUUID()}.mjs`)
    await writeFile(out, js)
  }
  try {
    return ((await import(pathToFileURL(out).href)) as { default: unknown }).default
  } finally {
    await rm(out, { force: true })
  }
}

/**
 * Read and check a config file: JSON (`.json`), JavaScript (`.js`, `.mjs`) or
 * TypeScript (`.ts`, `.mts`), whose default export is the config.
 *
 * @throws ERR_PYWATT_DEV_CONFIG when it cannot be read, loaded or validated
 */
export async function loadDevConfig (path: string): Promise<ResolvedDevConfig> {
  const file = resolve(path)
  if (!existsSync(file)) throw invalid(file, 'no such file')
  const ext = extname(file)
  let config: unknown
  try {
    if (ext === '.json') config = JSON.parse(readFileSync(file, 'utf8'))
    else if (['.ts', '.mts', '.js', '.mjs'].includes(ext)) config = await importConfig(file)
    else throw invalid(file, `a config is a .json, .ts, .mts, .js or .mjs file, not '${ext}'`)
  } catch (err) {
    if (err instanceof ERR_PYWATT_DEV_CONFIG) throw err
    throw invalid(file, `cannot be loaded: ${(err as Error).message}`, err)
  }
  return resolveDevConfig(config, dirname(file), file)
}

/** The secrets of a module: the environment, then its env files, then its inline secrets (read at each start). */
export function moduleSecrets (spec: DevModuleSpec): Record<string, string> {
  const secrets: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) secrets[k] = v
  for (const file of spec.envFiles) Object.assign(secrets, parseEnv(readFileSync(file, 'utf8')))
  return Object.assign(secrets, spec.secrets)
}
