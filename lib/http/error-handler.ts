import { STATUS_CODES } from 'node:http'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'

/**
 * Marks an error whose refusal was already logged where it was decided (a
 * rejected token): Fastify's default handler would log it a second time, at
 * info, with a stack that an expected refusal does not need.
 */
const kLogged = Symbol('fastify-pywatt.logged')

/** Mark `err` as logged where it was raised; returns it. */
export function loggedRefusal<E extends Error> (err: E): E {
  Object.defineProperty(err, kLogged, { value: true })
  return err
}

/** The body of a 5xx answered by {@link serverErrorHandler}. */
export interface ServerErrorBody {
  statusCode: number
  error: string
  message: string
  requestId: string
}

/** The body of a client error already logged where it was raised: Fastify's shape, without the log. */
export interface ClientErrorBody {
  statusCode: number
  code: string
  error: string
  message: string
}

function statusOf (err: FastifyError & { status?: unknown }, reply: FastifyReply): number {
  // A code the route set before throwing wins, as in Fastify's own handler.
  if (reply.statusCode >= 400) return reply.statusCode
  for (const s of [err.statusCode, err.status]) {
    if (typeof s === 'number' && s >= 400 && s <= 599) return s
  }
  return 500
}

/**
 * The root plugin's error handler. Fastify's default answers a 500 with the
 * error's message: a driver's message, an internal path, or a secret value
 * interpolated into an error would reach the caller, over HTTP and over IPC.
 * A 5xx gets a generic body with the request id instead, and the real error
 * goes to the (scrubbed) log under that id. Client errors (4xx: validation,
 * not found) keep Fastify's answer, whose message the caller needs; one
 * already logged where it was raised is answered without a second log line.
 */
export function serverErrorHandler (err: FastifyError, request: FastifyRequest, reply: FastifyReply): ServerErrorBody | ClientErrorBody {
  const statusCode = statusOf(err, reply)
  if (statusCode < 500) {
    if ((err as { [kLogged]?: boolean })[kLogged] === true) {
      reply.code(statusCode)
      return { statusCode, code: err.code, error: STATUS_CODES[statusCode] ?? 'Client Error', message: err.message }
    }
    // Thrown back, the error goes on to Fastify's default handler.
    throw err
  }
  request.log.error({ err, res: reply }, 'request failed with a server error')
  reply.code(statusCode)
  const error = STATUS_CODES[statusCode] ?? 'Server Error'
  return { statusCode, error, message: `${error}: see the module log for request ${request.id}`, requestId: request.id }
}
