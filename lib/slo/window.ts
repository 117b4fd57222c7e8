/**
 * Good and bad event counts over a sliding window, in fixed buckets: memory is
 * the bucket count whatever the traffic, and a window's totals are kept as
 * running sums so that reading them costs nothing.
 */
export class EventWindow {
  readonly #bucketMs: number
  readonly #total: Float64Array
  readonly #bad: Float64Array
  #head = -1
  #headStart = 0
  #sumTotal = 0
  #sumBad = 0

  constructor (windowMs: number, bucketMs: number) {
    this.#bucketMs = bucketMs
    const buckets = Math.max(1, Math.ceil(windowMs / bucketMs))
    this.#total = new Float64Array(buckets)
    this.#bad = new Float64Array(buckets)
  }

  /** Move the window to `now`: buckets that left it are emptied. */
  #advance (now: number): void {
    const start = now - (now % this.#bucketMs)
    if (this.#head === -1) {
      this.#head = 0
      this.#headStart = start
      return
    }
    if (start <= this.#headStart) return
    const n = this.#total.length
    const steps = Math.min(n, Math.round((start - this.#headStart) / this.#bucketMs))
    for (let i = 0; i < steps; i++) {
      this.#head = (this.#head + 1) % n
      this.#sumTotal -= this.#total[this.#head] as number
      this.#sumBad -= this.#bad[this.#head] as number
      this.#total[this.#head] = 0
      this.#bad[this.#head] = 0
    }
    this.#headStart = start
  }

  record (now: number, bad: boolean): void {
    this.#advance(now)
    this.#total[this.#head]++
    this.#sumTotal++
    if (bad) {
      this.#bad[this.#head]++
      this.#sumBad++
    }
  }

  /** Events and bad events in the window ending at `now`. */
  counts (now: number): { total: number, bad: number } {
    this.#advance(now)
    return { total: this.#sumTotal, bad: this.#sumBad }
  }
}
