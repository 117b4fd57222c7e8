/**
 * Exit codes of a PyWatt module (docs/protocol.md §8.3).
 * The orchestrator can tell a clean stop from a crash, a refused start, a forced
 * stop and a lost output channel without reading stderr.
 */
export const EXIT = {
  /** Clean stop: shutdown, signal or stdin EOF handled, work drained, output flushed. */
  OK: 0,
  /** Crash: an uncaught exception or unhandled rejection (Node's own code). */
  CRASH: 1,
  /** Refused to start: no Init, an invalid Init, startup secrets or a required channel unavailable. */
  REFUSED: 2,
  /** Forced stop: the drain deadline passed, or a second signal arrived. */
  FORCED: 3,
  /** stdout is gone (EPIPE): nothing more can be delivered. */
  OUTPUT_LOST: 4
} as const

/** One of {@link EXIT}. */
export type ExitCode = typeof EXIT[keyof typeof EXIT]
