import t from 'tap'
import { envSecrets, isCredentialName, nameWords, urlPasswords } from '../../lib/logging/env-secrets.js'

t.test('names are split into lower-case words', async (t) => {
  t.same(nameWords('DB_PASSWORD'), ['db', 'password'])
  t.same(nameWords('apiKey'), ['api', 'key'])
  t.same(nameWords('APIKey'), ['api', 'key'])
  t.same(nameWords('OAuth2Token'), ['o', 'auth', 'token'])
  t.same(nameWords('KEY1'), ['key'], 'trailing digits dropped')
  t.same(nameWords('__'), [])
})

t.test('credential names', async (t) => {
  for (const name of [
    'DB_PASSWORD', 'db_password', 'PASSWORD2', 'MYSQL_PWD', 'PGPASSWORD', 'SMTP_PASS', 'SMTP_PASSWD', 'GPG_PASSPHRASE',
    'API_KEY', 'apiKey', 'APIKEY', 'PRIVATE_KEY', 'SIGNING_KEY', 'S3_KEYS', 'GITHUB_TOKEN', 'AUTHTOKEN', 'JWT_SECRET',
    'CLIENT_SECRETS', 'AWS_CREDENTIALS', 'CREDS', 'NPM_AUTH', 'AUTHORIZATION', 'BEARER', 'PASSWORD_SALT', 'SENTRY_DSN',
    'COOKIE_SECRET', 'SESSION', 'AWS_ACCESS_KEY_ID'
  ]) t.ok(isCredentialName(name), name)
})

t.test('names that only look like credentials, and settings about credentials', async (t) => {
  for (const name of [
    'SHARDS', 'PORT', 'HOST', 'LOG_LEVEL', 'FEATURE_FLAG', 'KEYSPACE', 'MONKEY_COUNT', 'BYPASS_CACHE', 'PASSPORT_MODE',
    'AUTHOR', 'TOKEN_TTL', 'SESSION_TIMEOUT', 'SESSION_MAX_AGE', 'AUTH_ENABLED', 'PASSWORD_MIN_LENGTH', 'DB_PASSWORD_FILE',
    'PRIVATE_KEY_PATH', 'SESSION_COOKIE_NAME', 'CACHE_KEY_PREFIX', 'AUTH_URL', 'AUTH_HOST', 'AUTH_PORT', 'AUTH_MODE',
    'SECRETS_DIR', 'KEY_TYPE', ''
  ]) t.notOk(isCredentialName(name), name)
})

t.test('passwords of URLs with credentials', async (t) => {
  t.same(urlPasswords('postgres://user:pw@host/db'), ['pw'])
  t.same(urlPasswords('redis://:p%40ss%2Fw@127.0.0.1:6379/0'), ['p%40ss%2Fw', 'p@ss/w'], 'as written and decoded')
  t.same(urlPasswords('https://user@host/'), [], 'a user name alone')
  t.same(urlPasswords('https://host/path?email=a@b.c'), [])
  t.same(urlPasswords('mysql://u:%E0%A4%A@h/db'), ['%E0%A4%A'], 'bad percent-encoding: as written only')
  t.same(urlPasswords('not a url @ all'), [])
  t.same(urlPasswords('127.0.0.1'), [])
})

t.test('envSecrets: credential values and URL passwords, nothing else', async (t) => {
  const env = {
    SHARDS: '1796',
    PORT: '8080',
    FEATURE_FLAG: 'true',
    LEGACY: 'false',
    HOST: '127.0.0.1',
    CACHE_HOST: 'localhost',
    DATA_DIR: '/var/lib/data',
    LOG_LEVEL: 'info',
    KEYSPACE: 'orders',
    TOKEN_TTL: '3600',
    DB_PASSWORD: 'hunter22',
    API_KEY: 'k-123456',
    DATABASE_URL: 'postgres://app:url-password@db.internal:5432/app',
    DSN: 'postgres://app:dsn-password@db.internal/app'
  }
  t.same(envSecrets(env).sort(), ['hunter22', 'k-123456', 'url-password', 'postgres://app:dsn-password@db.internal/app', 'dsn-password'].sort())
  t.same(envSecrets({}), [])
})
