import { closeSync, openSync } from 'node:fs'
import type { ExitCode } from './exit-codes.js'

let orchestratorGone = false

/**
 * Record that nobody reads the module's stdout and stderr any more (stdin
 * ended, stdout failed with EPIPE, or the parent died). From then on
 * {@link exitProcess} points them at `/dev/null` before exiting.
 */
export function markOrchestratorGone (): void {
  orchestratorGone = true
}

/**
 * Make `fd` refer to `/dev/null`. Node has no `dup2`, so the descriptor is
 * closed and `/dev/null` opened until the kernel hands out that number again
 * (it always gives the lowest free one); lower descriptors freed earlier (a
 * closed stdin) are filled with `/dev/null` on the way. Runs only right before
 * `process.exit`, when no event-loop turn can see the swap.
 */
function toDevNull (fd: number): void {
  try {
    closeSync(fd)
    for (;;) {
      const opened = openSync('/dev/null', 'r+')
      if (opened === fd) return
      if (opened > fd) {
        // Another thread took the number first; a closed descriptor still fails fast.
        closeSync(opened)
        return
      }
    }
  } catch {
    // Exiting anyway: a descriptor left closed fails with EBADF, which does not block.
  }
}

/**
 * `process.exit(code)`, made safe against dead readers: the process's `exit`
 * listeners include loggers flushing synchronously, and pino's own
 * destination retries a write that fails with EPIPE every 100 ms for ever,
 * which held modules whose orchestrator died alive and deaf to SIGTERM. When
 * the orchestrator is gone, fd 1 and fd 2 are pointed at `/dev/null` first, so
 * every such write succeeds at once.
 */
export function exitProcess (code: ExitCode): never {
  if (orchestratorGone) {
    toDevNull(1)
    toDevNull(2)
  }
  process.exit(code)
}
