/**
 * Which `init.env` values are secrets.
 *
 * `init.env` is mostly ordinary configuration (ports, hosts, flags, shard
 * counts); secrets proper come through `get_secret`, and the Rust SDK registers
 * no `init.env` value at all. Registering every value made `SHARDS=1796` or
 * `FEATURE=true` scrub ordinary log text. A value is a secret when its name says
 * it is a credential, and the password of a URL with credentials is one whatever
 * the name (`DATABASE_URL=postgres://user:pw@host/db`).
 */

/** Words of a variable name that make its value a credential. */
const CREDENTIAL_WORDS = new Set([
  'secret', 'secrets', 'password', 'passwords', 'passwd', 'pass', 'passphrase', 'pwd',
  'token', 'tokens', 'key', 'keys', 'apikey', 'credential', 'credentials', 'creds',
  'auth', 'authorization', 'bearer', 'private', 'signing', 'salt', 'dsn', 'cookie', 'session'
])

/** Endings that mark a credential even inside one word (`PGPASSWORD`, `APITOKEN`). */
const CREDENTIAL_ENDINGS = ['password', 'passwd', 'secret', 'token', 'apikey']

/**
 * Last words that make the variable a setting about a credential rather than the
 * credential itself: `TOKEN_TTL=3600`, `DB_PASSWORD_FILE=/run/secrets/db`,
 * `SESSION_COOKIE_NAME=sid`, `AUTH_URL=https://auth.example.com`.
 */
const SETTING_WORDS = new Set([
  'ttl', 'timeout', 'expiry', 'age', 'lifetime', 'enabled', 'disabled', 'length', 'size',
  'name', 'prefix', 'path', 'file', 'dir', 'host', 'port', 'url', 'uri', 'mode', 'type'
])

/** The lower-case words of a variable name: `DB_PASSWORD2` → db, password; `apiKey` → api, key. */
export function nameWords (name: string): string[] {
  return name
    .split(/[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])/)
    .map((w) => w.toLowerCase().replace(/\d+$/, ''))
    .filter((w) => w !== '')
}

/** True when the variable `name` holds a credential (case-insensitive, by whole words). */
export function isCredentialName (name: string): boolean {
  const words = nameWords(name)
  if (words.length === 0 || SETTING_WORDS.has(words[words.length - 1])) return false
  return words.some((w) => CREDENTIAL_WORDS.has(w) || CREDENTIAL_ENDINGS.some((e) => w.endsWith(e)))
}

/** The password of `value` when it is a URL with credentials, as written and decoded; else none. */
export function urlPasswords (value: string): string[] {
  // Most values are not URLs: skip the parser for them.
  if (!value.includes('@')) return []
  let password: string
  try {
    password = new URL(value).password
  } catch {
    return []
  }
  if (password === '') return []
  let decoded: string
  try {
    decoded = decodeURIComponent(password)
  } catch {
    return [password]
  }
  return decoded === password ? [password] : [password, decoded]
}

/** The `init.env` values to register for scrubbing. */
export function envSecrets (env: Readonly<Record<string, string>>): string[] {
  const secrets = new Set<string>()
  for (const [name, value] of Object.entries(env)) {
    if (isCredentialName(name)) secrets.add(value)
    for (const password of urlPasswords(value)) secrets.add(password)
  }
  return [...secrets]
}
