import createError from '@fastify/error'

/**
 * Every error the suite throws, in one table (the Fastify core convention).
 * Codes are stable and documented in the README; messages never contain secret values.
 */

/** Plugin options failed validation at registration. */
export const ERR_PYWATT_INVALID_OPTIONS = createError<[string]>(
  'FST_PYWATT_INVALID_OPTIONS', 'Invalid fastify-pywatt options: %s', 500, TypeError)

/** The root plugin was registered twice in the same process. */
export const ERR_PYWATT_ALREADY_REGISTERED = createError(
  'FST_PYWATT_ALREADY_REGISTERED', 'fastify-pywatt has already been registered', 500)

/** The first stdin line could not be read or is not a valid Init blob. */
export const ERR_PYWATT_INIT = createError<[string, { cause: unknown }?]>(
  'FST_PYWATT_INIT', 'Orchestrator handshake failed: %s', 500)

/** Fastify's logger writes to stdout, which carries the protocol under an orchestrator. */
export const ERR_PYWATT_LOGGER_ON_STDOUT = createError(
  'FST_PYWATT_LOGGER_ON_STDOUT',
  "Fastify's logger writes to stdout, which carries the orchestrator protocol: create the app with Fastify({ loggerInstance: pywattLogger() })",
  500)

/** A protocol line or frame could not be decoded; the message names the field. */
export const ERR_PYWATT_PROTOCOL = createError<[string]>(
  'FST_PYWATT_PROTOCOL', 'Protocol error: %s', 400)

/** A value cannot be encoded in the wire format (e.g. `identify`). */
export const ERR_PYWATT_ENCODE = createError<[string]>(
  'FST_PYWATT_ENCODE', 'Cannot encode message: %s', 500)

/** `secrets.get()` was called for a name that is not cached. */
export const ERR_PYWATT_SECRET_NOT_FOUND = createError<[string]>(
  'FST_PYWATT_SECRET_NOT_FOUND', "Secret '%s' is not available: it was never fetched, or it was rotated and not fetched again", 500)

/** Standalone, a secret asked for is not in the environment, where secrets come from without an orchestrator. */
export const ERR_PYWATT_SECRET_NOT_SET = createError<[string, string]>(
  'FST_PYWATT_SECRET_NOT_SET', "Secret '%s' is not set: without an orchestrator, secrets come from the environment; set %s", 500)

/** The orchestrator did not answer a `get_secret` in time. */
export const ERR_PYWATT_SECRET_TIMEOUT = createError<[string, number]>(
  'FST_PYWATT_SECRET_TIMEOUT', "Timed out waiting for secret '%s' after %d ms", 503)

/** A typed accessor could not parse a secret; the value is never included. */
export const ERR_PYWATT_SECRET_INVALID = createError<[string, string]>(
  'FST_PYWATT_SECRET_INVALID', "Secret '%s' is not a valid %s", 500)

/** The orchestrator channel is gone (stdin EOF, EPIPE, or the module is shutting down). */
export const ERR_PYWATT_CHANNEL_CLOSED = createError<[string]>(
  'FST_PYWATT_CHANNEL_CLOSED', 'The orchestrator channel is closed: %s', 503)

/** The outbound queue to the orchestrator exceeded its byte cap. */
export const ERR_PYWATT_OUTPUT_OVERFLOW = createError<[number]>(
  'FST_PYWATT_OUTPUT_OVERFLOW', 'Outbound protocol queue is over its cap of %d bytes', 503)

/** A TCP or Unix-socket channel of the Init blob cannot be used as given (address, path length). */
export const ERR_PYWATT_CHANNEL_CONFIG = createError<[string, string]>(
  'FST_PYWATT_CHANNEL_CONFIG', 'Invalid %s channel: %s', 500, TypeError)

/** A channel the Init blob marks `required` could not be connected; the module refuses to start. */
export const ERR_PYWATT_CHANNEL_REQUIRED = createError<[string, string]>(
  'FST_PYWATT_CHANNEL_REQUIRED', 'Required %s channel unavailable: %s', 500)

/** `pywatt.listen()` could not bind the address the orchestrator assigned. */
export const ERR_PYWATT_LISTEN = createError<[string, { cause: unknown }?]>(
  'FST_PYWATT_LISTEN', 'Cannot listen: %s', 500)

/**
 * A request to a JWT-protected route was refused. The body is the same for every
 * cause; the cause (`reason`, one of the `FST_PYWATT_JWT_*` reason codes) is logged.
 */
export const ERR_PYWATT_JWT_UNAUTHORIZED = createError(
  'FST_PYWATT_JWT_UNAUTHORIZED', 'Unauthorized', 401)

/** The JWT key secret cannot be used for the configured algorithms; the key is never included. */
export const ERR_PYWATT_JWT_KEY = createError<[string]>(
  'FST_PYWATT_JWT_KEY', 'Unusable JWT key: %s', 500)

/** A token cannot be signed (verify-only key, no key yet, invalid payload). */
export const ERR_PYWATT_JWT_SIGN = createError<[string]>(
  'FST_PYWATT_JWT_SIGN', 'Cannot sign a JWT: %s', 500)

/** The database configuration (URL or options) is invalid; the URL itself is never quoted. */
export const ERR_PYWATT_DB_CONFIG = createError<[string]>(
  'FST_PYWATT_DB_CONFIG', 'Invalid database configuration: %s', 500, TypeError)

/** The database driver failed; the driver's error is the `cause`. */
export const ERR_PYWATT_DB_QUERY = createError<[string, { cause: unknown }?]>(
  'FST_PYWATT_DB_QUERY', 'Database error: %s', 500)

/** No pooled connection became free within `pool.acquireTimeout`. */
export const ERR_PYWATT_DB_POOL_TIMEOUT = createError<[number, { cause: unknown }?]>(
  'FST_PYWATT_DB_POOL_TIMEOUT', 'No database connection became free within %d ms (pool exhausted)', 503)

/** The database was closed, or a transaction handle was used after its transaction ended. */
export const ERR_PYWATT_DB_CLOSED = createError<[string]>(
  'FST_PYWATT_DB_CLOSED', 'Database unavailable: %s', 503)

/** The cache configuration (URL or options) is invalid; the URL itself is never quoted. */
export const ERR_PYWATT_CACHE_CONFIG = createError<[string]>(
  'FST_PYWATT_CACHE_CONFIG', 'Invalid cache configuration: %s', 500, TypeError)

/** The cache backend cannot do this operation (see the README capability table). */
export const ERR_PYWATT_CACHE_UNSUPPORTED = createError<[string, string]>(
  'FST_PYWATT_CACHE_UNSUPPORTED', "The %s cache backend does not support '%s'", 500)

/** The cache backend failed; the client's error is the `cause`. */
export const ERR_PYWATT_CACHE_OPERATION = createError<[string, { cause: unknown }?]>(
  'FST_PYWATT_CACHE_OPERATION', 'Cache error: %s', 500)

/** `incr`/`decr` on a value that is not an integer. */
export const ERR_PYWATT_CACHE_NOT_INTEGER = createError<[string]>(
  'FST_PYWATT_CACHE_NOT_INTEGER', "Cache value of '%s' is not an integer", 500)

/** `withLock` could not take the lock within its `wait`. */
export const ERR_PYWATT_CACHE_LOCK_TIMEOUT = createError<[string, number]>(
  'FST_PYWATT_CACHE_LOCK_TIMEOUT', "The cache lock '%s' is held by another holder: not taken within %d ms", 503)

/** Routes marked `config: { pywatt: { auth: 'jwt' } }` were declared before `fastify-pywatt/jwt` could protect them. */
export const ERR_PYWATT_JWT_UNPROTECTED = createError<[string]>(
  'FST_PYWATT_JWT_UNPROTECTED', "Routes marked auth: 'jwt' were declared before fastify-pywatt/jwt was registered, so they are not protected: %s", 500)

/** An orchestrator service (`service_request` / `service_operation`) failed or did not answer. */
export const ERR_PYWATT_SERVICE = createError<[string, string]>(
  'FST_PYWATT_SERVICE', 'Orchestrator service %s failed: %s', 502)

/**
 * No port was agreed with the orchestrator (`port_request`): it refused, granted
 * port 0, did not answer in time, or the circuit breaker is open. The error's
 * `reason` says which (see the README).
 */
export const ERR_PYWATT_PORT_NEGOTIATION = createError<[string, { cause: unknown }?]>(
  'FST_PYWATT_PORT_NEGOTIATION', 'Port negotiation failed: %s', 503)

/**
 * Migrations could not be applied: an applied file was edited since, a file
 * failed (its name and the database's message are said), the directory or a
 * file name is not usable, or the migration lock was not had in time.
 */
export const ERR_PYWATT_MIGRATION = createError<[string, { cause: unknown }?]>(
  'FST_PYWATT_MIGRATION', 'Migrations refused: %s', 500)

/** A module-to-module request got no answer within its timeout. */
export const ERR_PYWATT_MODULE_TIMEOUT = createError<[string, string, number]>(
  'FST_PYWATT_MODULE_TIMEOUT', 'Module %s did not answer %s within %d ms', 504)

/** The orchestrator knows no module by the target's id. */
export const ERR_PYWATT_MODULE_UNKNOWN_TARGET = createError<[string]>(
  'FST_PYWATT_MODULE_UNKNOWN_TARGET', 'No module %s is known to the orchestrator', 404)

/**
 * The target module answered with an error: no handler for the endpoint, its
 * payload failed the handler's schema, or the handler threw. The error carries
 * the target's `remoteCode` and `statusCode`.
 */
export const ERR_PYWATT_MODULE_REFUSED = createError<[string, string, string]>(
  'FST_PYWATT_MODULE_REFUSED', 'Module %s refused %s: %s', 502)

/** The target module is known but not running, or stopped before it answered (the orchestrator says so). */
export const ERR_PYWATT_MODULE_UNAVAILABLE = createError<[string, string]>(
  'FST_PYWATT_MODULE_UNAVAILABLE', 'Module %s is unavailable: %s', 503)

/** No channel that carries module-to-module requests is connected. */
export const ERR_PYWATT_MODULE_CHANNEL_DOWN = createError<[string]>(
  'FST_PYWATT_MODULE_CHANNEL_DOWN', 'No channel can carry module-to-module requests: %s', 503)

/** A module-to-module payload or answer does not match its schema, or cannot be encoded. */
export const ERR_PYWATT_MODULE_PAYLOAD = createError<[string]>(
  'FST_PYWATT_MODULE_PAYLOAD', 'Invalid module-to-module payload: %s', 400)

/** Service discovery (`register_service_provider` / `discover_service_providers`) failed or got no answer. */
export const ERR_PYWATT_DISCOVERY = createError<[string]>(
  'FST_PYWATT_DISCOVERY', 'Service discovery failed: %s', 503)

/** A `pywatt-dev` config file could not be read, or failed validation; the message names the key. */
export const ERR_PYWATT_DEV_CONFIG = createError<[string, { cause?: unknown }?]>(
  'FST_PYWATT_DEV_CONFIG', 'Invalid pywatt-dev config: %s', 500, TypeError)

/**
 * The module's typed configuration (option `config`) could not be filled: the
 * message names each field at fault, where it was read from and what was
 * expected, never a value; the error's `problems` lists them.
 */
export const ERR_PYWATT_CONFIG = createError<[string]>(
  'FST_PYWATT_CONFIG', 'Invalid module configuration: %s', 500, TypeError)
