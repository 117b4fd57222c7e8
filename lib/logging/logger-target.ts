import pino from 'pino'
import type { FastifyBaseLogger } from 'fastify'

/**
 * Whether a pino logger's lines go to fd 1. `Fastify({ logger: true })` (and
 * a bare `pino()`) builds a destination on stdout before any plugin runs, so
 * the stdout guard cannot catch it: its lines, secret values included, would
 * land in the protocol. A transport (a worker thread) cannot be inspected.
 */
export function writesToStdout (log: FastifyBaseLogger): boolean {
  const stream = (log as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as { fd?: unknown } | undefined
  return stream !== undefined && (stream === process.stdout || stream.fd === 1)
}
