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

/** A protocol line or frame could not be decoded; the message names the field. */
export const ERR_PYWATT_PROTOCOL = createError<[string]>(
  'FST_PYWATT_PROTOCOL', 'Protocol error: %s', 400)

/** A value cannot be encoded in the wire format (e.g. `identify`). */
export const ERR_PYWATT_ENCODE = createError<[string]>(
  'FST_PYWATT_ENCODE', 'Cannot encode message: %s', 500)

/** `secrets.get()` was called for a name that is not cached. */
export const ERR_PYWATT_SECRET_NOT_FOUND = createError<[string]>(
  'FST_PYWATT_SECRET_NOT_FOUND', "Secret '%s' is not available: it was never fetched, or it was rotated and not fetched again", 500)

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

/** `pywatt.listen()` could not bind the address the orchestrator assigned. */
export const ERR_PYWATT_LISTEN = createError<[string, { cause: unknown }?]>(
  'FST_PYWATT_LISTEN', 'Cannot listen: %s', 500)
