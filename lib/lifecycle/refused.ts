/*
 * Errors a plugin has already refused the start with: it logged the fatal
 * line and exited 2 (or called `io.exit`). `runModule` passes such an error
 * on as it is, so a refusal is logged once and exits once.
 */
const refused = new WeakSet<object>()

/** `err`, recorded as a refusal already reported. */
export function markRefused<E> (err: E): E {
  if (typeof err === 'object' && err !== null) refused.add(err)
  return err
}

/** Whether a plugin already reported `err` as its refusal to start. */
export function alreadyRefused (err: unknown): boolean {
  return typeof err === 'object' && err !== null && refused.has(err)
}
