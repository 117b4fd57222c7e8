import { Writable } from 'node:stream'
import type { FastifyBaseLogger } from 'fastify'
import pino from 'pino'
import { pywattLogger } from '../../lib/logging/logger.js'

/** A pywatt logger whose lines are kept in memory (scrubbed like the real one). */
export function captureLogger (level = 'debug'): { logger: FastifyBaseLogger, lines: string[], entries: () => Array<Record<string, any>> } {
  const lines: string[] = []
  const sink = new Writable({
    write (chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l.length > 0) lines.push(l)
      cb()
    }
  })
  const logger = pywattLogger({ level, destination: sink })
  return { logger, lines, entries: () => lines.map((l) => JSON.parse(l) as Record<string, any>) }
}

/**
 * A logger that keeps lines in memory without scrubbing them: for tests that
 * a component does not log a value (a scrubbing logger would hide it anyway).
 */
export function captureRawLogger (level = 'debug'): { logger: FastifyBaseLogger, lines: string[], entries: () => Array<Record<string, any>> } {
  const lines: string[] = []
  const logger = pino({ level }, { write: (line: string) => { lines.push(line) } })
  return { logger, lines, entries: () => lines.map((l) => JSON.parse(l) as Record<string, any>) }
}
