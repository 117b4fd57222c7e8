/** How often the parent process id is compared with the one at start. */
export const PARENT_POLL_MS = 500

/**
 * Call `onGone` once when the process is re-parented, i.e. its parent (the
 * orchestrator) died. Linux sends no signal for that and the pipes may stay
 * open, so the parent id is polled; the timer never keeps the process alive.
 * Returns a function that stops watching.
 */
export function watchParent (onGone: () => void, intervalMs = PARENT_POLL_MS): () => void {
  const parent = process.ppid
  const timer = setInterval(() => {
    if (process.ppid === parent) return
    clearInterval(timer)
    onGone()
  }, intervalMs)
  timer.unref()
  return () => clearInterval(timer)
}
