import type { EventEmitter } from 'node:events'

/**
 * Emit `event` so that a listener that throws cannot unwind into whoever
 * emitted it: events carrying orchestrator input are emitted from a stream's
 * `data` handler, where a throw is an uncaught exception and ends the module.
 * The error goes to `onThrow` instead (log it, count it). As with `emit`,
 * listeners after the one that threw do not run.
 */
export function emitGuarded (emitter: EventEmitter, event: string, args: readonly unknown[], onThrow: (err: unknown) => void): void {
  try {
    emitter.emit(event, ...args)
  } catch (err) {
    onThrow(err)
  }
}
