import type { FastifyInstance } from 'fastify'
import { EXIT } from './exit-codes.js'
import { exitProcess } from './process-exit.js'

/** Options of {@link closeOnSignals}. */
export interface CloseOnSignalsOptions {
  /** Signals to handle (default SIGTERM and SIGINT). */
  signals?: NodeJS.Signals[]
}

/**
 * For the module's entry file, not for libraries (a library must not take over
 * signals): the first SIGTERM/SIGINT stops the module exactly like an
 * orchestrator `shutdown` (drain, close, flush, exit 0); a second one exits at
 * once with code 3. Returns a function that removes the handlers.
 */
export function closeOnSignals (app: FastifyInstance, opts: CloseOnSignalsOptions = {}): () => void {
  const signals = opts.signals ?? ['SIGTERM', 'SIGINT']
  let received = false
  const onSignal = (signal: NodeJS.Signals): void => {
    if (received) {
      app.log.error({ signal }, 'second signal: exiting without waiting for the drain')
      exitProcess(EXIT.FORCED)
    }
    received = true
    app.log.info({ signal }, 'signal received: stopping')
    app.pywatt.stop('signal').catch(/* c8 ignore next */ () => {})
  }
  for (const signal of signals) process.on(signal, onSignal)
  return () => {
    for (const signal of signals) process.off(signal, onSignal)
  }
}
