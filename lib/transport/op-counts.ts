/**
 * Messages counted by `op`. Ops come from decoded messages (a closed set the
 * protocol schemas fix) or from the module's own messages, so the keys are
 * bounded; read by the metrics plugin at scrape time.
 */
export class OpCounts {
  readonly #counts = new Map<string, number>()

  add (op: string): void {
    this.#counts.set(op, (this.#counts.get(op) ?? 0) + 1)
  }

  /** The count of `op` (0 if never seen). */
  get (op: string): number {
    return this.#counts.get(op) ?? 0
  }

  entries (): IterableIterator<[string, number]> {
    return this.#counts.entries()
  }
}
