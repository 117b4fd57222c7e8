import { readFileSync } from 'node:fs'
import type { ConnectionOptions } from 'node:tls'
import { ERR_PYWATT_DB_CONFIG } from '../errors.js'
import { registerSecret } from '../logging/registry.js'
import type { Dialect, ResolvedTls, TlsMode } from './types.js'

/*
 * The connection parameters of a database URL's query (or of the `params`
 * option): each one is understood or refused by name, never dropped. Files
 * named by a parameter are read here, at configuration time.
 */

const PG_PARAMS = ['sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'sslpassword', 'application_name'] as const
const MYSQL_PARAMS = ['ssl-mode', 'ssl-ca', 'ssl-cert', 'ssl-key'] as const

const PG_MODES: Readonly<Record<string, TlsMode>> = { disable: 'disable', require: 'require', 'verify-ca': 'verify-ca', 'verify-full': 'verify-full' }
const MYSQL_MODES: Readonly<Record<string, TlsMode>> = { DISABLED: 'disable', REQUIRED: 'require', VERIFY_CA: 'verify-ca', VERIFY_IDENTITY: 'verify-full' }

/** The other dialect's spelling of a parameter, for a hint. */
const ELSEWHERE: Readonly<Record<string, string>> = {
  sslmode: 'ssl-mode',
  sslrootcert: 'ssl-ca',
  sslcert: 'ssl-cert',
  sslkey: 'ssl-key',
  'ssl-mode': 'sslmode',
  'ssl-ca': 'sslrootcert',
  'ssl-cert': 'sslcert',
  'ssl-key': 'sslkey'
}

const fail = (message: string): Error => new ERR_PYWATT_DB_CONFIG(message)

/** What the parameters and the `tls` option settle. */
export interface ConnectionParams {
  /** `undefined`: nothing said about TLS (PostgreSQL: `pg` then follows `PGSSLMODE`). */
  tls?: ResolvedTls
  applicationName?: string
}

/** A database URL's query as a record; a parameter given twice is refused. */
export function queryParams (query: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of query) {
    if (Object.hasOwn(out, name)) throw fail(`the database URL parameter '${name}' is given twice`)
    out[name] = value
  }
  return out
}

function readPem (param: string, path: string): Buffer {
  if (path === '') throw fail(`${param} is empty: give the path of a PEM file`)
  try {
    return readFileSync(path)
  } catch (err) {
    throw fail(`cannot read the file of ${param} (${path}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
}

/** MySQL option names are case-insensitive and take `-` or `_` (`ssl_ca`, `SSL-MODE`). */
function mysqlName (name: string): string {
  return name.toLowerCase().replaceAll('_', '-')
}

/**
 * Check the parameters of `dialect` and settle TLS: the mode (URL or implied),
 * the files read, the `tls` option's fields over them.
 */
export function resolveConnectionParams (dialect: Dialect, params: Readonly<Record<string, string>>, tls: ConnectionOptions | undefined): ConnectionParams {
  const names = Object.keys(params)
  if (dialect === 'sqlite') {
    if (names.length > 0) throw fail(`unknown database URL parameter '${names[0]}': SQLite takes none`)
    if (tls !== undefined) throw fail('the tls option does not apply to SQLite')
    return {}
  }
  if (tls !== undefined && (tls === null || typeof tls !== 'object')) throw fail('the tls option must be an object (node:tls ConnectionOptions)')
  const known: readonly string[] = dialect === 'postgres' ? PG_PARAMS : MYSQL_PARAMS
  const p: Record<string, string> = {}
  for (const name of names) {
    const key = dialect === 'postgres' ? name : mysqlName(name)
    if (!known.includes(key)) {
      const other = ELSEWHERE[key]
      const hint = other !== undefined && known.includes(other) ? `; did you mean '${other}'?` : ''
      const label = dialect === 'postgres' ? 'PostgreSQL' : 'MySQL/MariaDB'
      throw fail(`unknown database URL parameter '${name}' (${label} takes ${known.join(', ')})${hint}`)
    }
    if (Object.hasOwn(p, key)) throw fail(`the database URL parameter '${key}' is given twice`)
    p[key] = params[name]!
  }
  if (p.sslpassword !== undefined && p.sslpassword !== '') registerSecret(p.sslpassword)

  const out: ConnectionParams = {}
  if (p.application_name !== undefined) out.applicationName = p.application_name

  // The mode as written, then what it is when unsaid.
  const modeParam = dialect === 'postgres' ? 'sslmode' : 'ssl-mode'
  const caParam = dialect === 'postgres' ? 'sslrootcert' : 'ssl-ca'
  const certParam = dialect === 'postgres' ? 'sslcert' : 'ssl-cert'
  const keyParam = dialect === 'postgres' ? 'sslkey' : 'ssl-key'
  let mode: TlsMode | undefined
  const written = p[modeParam]
  if (written !== undefined) {
    mode = dialect === 'postgres' ? PG_MODES[written.toLowerCase()] : MYSQL_MODES[written.toUpperCase().replaceAll('-', '_')]
    if (mode === undefined) {
      const fallback = dialect === 'postgres' ? /^(prefer|allow)$/i : /^preferred$/i
      if (fallback.test(written)) {
        throw fail(`${modeParam}=${written} is not supported: the driver cannot fall back to plaintext when TLS fails; use ${dialect === 'postgres' ? 'require or disable' : 'REQUIRED or DISABLED'}`)
      }
      const allowed = Object.keys(dialect === 'postgres' ? PG_MODES : MYSQL_MODES).join(', ')
      throw fail(`${modeParam} '${written}' is not one of ${allowed}`)
    }
  }
  const ca = p[caParam]
  const files = [caParam, certParam, keyParam].filter((n) => p[n] !== undefined)
  if (mode === 'disable') {
    if (files.length > 0) throw fail(`${modeParam}=${String(written)} conflicts with ${files[0]}`)
    if (tls !== undefined) throw fail(`${modeParam}=${String(written)} conflicts with the tls option`)
    out.tls = { mode }
    return out
  }
  if (mode === undefined) {
    if (files.length === 0 && tls === undefined) return out
    // MySQL's own rule: a CA without a mode verifies the CA; otherwise verify everything.
    mode = dialect === 'mysql' && ca !== undefined ? 'verify-ca' : 'verify-full'
  }
  // libpq's rule: with a root certificate, `require` verifies it like `verify-ca`.
  if (dialect === 'postgres' && mode === 'require' && ca !== undefined && ca !== 'system') mode = 'verify-ca'
  if ((p[certParam] === undefined) !== (p[keyParam] === undefined)) {
    throw fail(`${p[certParam] === undefined ? keyParam : certParam} needs ${p[certParam] === undefined ? certParam : keyParam} too`)
  }

  const options: ConnectionOptions = {}
  // `sslrootcert=system` (libpq 16): the system's CAs, which is Node's default.
  if (ca !== undefined && !(dialect === 'postgres' && ca === 'system')) options.ca = readPem(caParam, ca)
  if (p[certParam] !== undefined) options.cert = readPem(certParam, p[certParam])
  if (p[keyParam] !== undefined) options.key = readPem(keyParam, p[keyParam])
  if (p.sslpassword !== undefined) options.passphrase = p.sslpassword
  options.rejectUnauthorized = mode !== 'require'
  if (mode === 'verify-ca') options.checkServerIdentity = () => undefined
  out.tls = { mode, options: { ...options, ...tls } }
  return out
}

/** The `ssl` option of a `pg.Pool`; `undefined` leaves pg's default (`PGSSLMODE`). */
export function pgSsl (tls: ResolvedTls | undefined): ConnectionOptions | false | undefined {
  if (tls === undefined) return undefined
  if (tls.mode === 'disable') return false
  return tls.options
}

/** The fields mysql2 builds its TLS context from, and its two checks. */
export interface MysqlSsl {
  ca?: ConnectionOptions['ca']
  cert?: ConnectionOptions['cert']
  key?: ConnectionOptions['key']
  passphrase?: string
  ciphers?: string
  minVersion?: ConnectionOptions['minVersion']
  maxVersion?: ConnectionOptions['maxVersion']
  rejectUnauthorized: boolean
  verifyIdentity: boolean
}

/**
 * The `ssl` option of a mysql2 pool. mysql2 builds its TLS context from these
 * fields only: other `tls` fields (`servername`, `checkServerIdentity`…) have
 * no effect on MySQL/MariaDB.
 */
export function mysqlSsl (tls: ResolvedTls | undefined): MysqlSsl | undefined {
  if (tls === undefined || tls.mode === 'disable') return undefined
  const o = tls.options ?? {}
  const out: MysqlSsl = {
    rejectUnauthorized: o.rejectUnauthorized !== false,
    verifyIdentity: tls.mode === 'verify-full' && o.rejectUnauthorized !== false
  }
  for (const k of ['ca', 'cert', 'key', 'passphrase', 'ciphers', 'minVersion', 'maxVersion'] as const) {
    if (o[k] !== undefined) (out as unknown as Record<string, unknown>)[k] = o[k]
  }
  return out
}
