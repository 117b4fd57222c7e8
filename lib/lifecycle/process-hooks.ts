import type { FastifyBaseLogger } from 'fastify'
import { pywattLogger } from '../logging/logger.js'
import { installStdoutGuard } from '../logging/stdout-guard.js'
import type { ModuleRuntime } from '../runtime/runtime.js'
import { EXIT } from './exit-codes.js'
import { watchParent } from './parent-watch.js'
import { exitProcess, markOrchestratorGone } from './process-exit.js'

function ignoreStderrError (): void {}

/**
 * What the root plugin changes in the process when it owns the real stdio:
 * returns a function that undoes what can be undone (the stdout guard stays:
 * a stray write during the exit must not reach the protocol either).
 */
export function attachToProcess (runtime: ModuleRuntime, log: FastifyBaseLogger): () => void {
  // A closed stderr (EPIPE) must not crash the module: logs are lost, the
  // protocol on stdout goes on.
  process.stderr.on('error', ignoreStderrError)
  process.on('uncaughtException', onCrash)
  if (runtime.standalone) {
    return () => {
      process.off('uncaughtException', onCrash)
    }
  }
  installStdoutGuard(log)
  // An orchestrator killed outright may leave the pipes open (a grandchild
  // holds them): its death shows only as a new parent.
  const unwatch = watchParent(() => {
    markOrchestratorGone()
    log.warn('the parent process is gone: the orchestrator died')
    runtime.requestStop('parent-exit')
  })
  runtime.channel?.on('eof', markOrchestratorGone)
  runtime.channel?.on('output-closed', markOrchestratorGone)
  return () => {
    unwatch()
    process.off('uncaughtException', onCrash)
  }
}

let crashLog: FastifyBaseLogger | null = null

/**
 * Node prints an uncaught error (or unhandled rejection) raw on stderr, secret
 * values included. This reports it through a scrubbing logger whatever the
 * app's logger is, then exits with Node's own code for a crash, unless the
 * app has a handler of its own (then the app decides).
 */
function onCrash (err: unknown, origin: NodeJS.UncaughtExceptionOrigin): void {
  crashLog ??= pywattLogger()
  crashLog.fatal({ err, origin }, origin === 'unhandledRejection' ? 'unhandled promise rejection: the module crashes' : 'uncaught exception: the module crashes')
  if (process.listenerCount('uncaughtException') === 1) exitProcess(EXIT.CRASH)
}
