import pino, { type LoggerOptions, type DestinationStream } from 'pino'
import type { FastifyBaseLogger } from 'fastify'
import { secretRegistry } from './registry.js'
import { stderrSink } from './stderr-sink.js'

/** Options of {@link pywattLogger}. */
export interface PyWattLoggerOptions {
  /** Log level; defaults to `PYWATT_LOG_LEVEL`, then a plain-level `RUST_LOG`, then `info`. */
  level?: string
  /**
   * Where lines go; defaults to the process-wide stderr sink, which never
   * blocks and drops (and counts) what a dead or stuck reader cannot take.
   * Never stdout.
   */
  destination?: DestinationStream
  /**
   * Extra pino options (merged; `hooks.streamWrite` is always the scrubber), e.g.
   * `redact` paths for values that are sensitive but not secrets the module
   * knows, such as client `authorization` headers in a custom serializer.
   */
  pino?: Omit<LoggerOptions, 'hooks' | 'level'>
}

const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])

/** The level named by the environment, or `info`. */
export function levelFromEnv (env: NodeJS.ProcessEnv = process.env): string {
  for (const raw of [env.PYWATT_LOG_LEVEL, env.RUST_LOG]) {
    const level = raw?.trim().toLowerCase()
    if (level !== undefined && LEVELS.has(level)) return level
  }
  return 'info'
}

/**
 * A pino logger for PyWatt modules: JSON on stderr, every registered secret value
 * scrubbed from every line (message, error message and stack, any field at any
 * depth, JSON-escaped and encoded forms). Pass it to Fastify as `loggerInstance`.
 * It is typed as `FastifyBaseLogger` so that the app stays assignable to
 * `FastifyInstance` (fastify/fastify#4960).
 */
export function pywattLogger (opts: PyWattLoggerOptions = {}): FastifyBaseLogger {
  return pino({
    ...opts.pino,
    level: opts.level ?? levelFromEnv(),
    hooks: { streamWrite: (line: string) => secretRegistry.scrub(line) }
  }, opts.destination ?? stderrSink())
}
