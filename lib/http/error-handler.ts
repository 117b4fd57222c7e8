import { STATUS_CODES } from 'node:http'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'

/** The body of a 5xx answered by {@link serverErrorHandler}. */
export interface ServerErrorBody {
  statusCode: number
  error: string
  message: string
  requestId: string
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
 * not found) keep Fastify's answer, whose message the caller needs.
 */
export function serverErrorHandler (err: FastifyError, request: FastifyRequest, reply: FastifyReply): ServerErrorBody {
  const statusCode = statusOf(err, reply)
  // Thrown back, the error goes on to Fastify's default handler.
  if (statusCode < 500) throw err
  request.log.error({ err, res: reply }, 'request failed with a server error')
  reply.code(statusCode)
  const error = STATUS_CODES[statusCode] ?? 'Server Error'
  return { statusCode, error, message: `${error}: see the module log for request ${request.id}`, requestId: request.id }
}
