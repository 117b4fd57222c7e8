import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'

/**
 * The event loop's worst delay over the last window, for liveness. A stall
 * delays the probe that would report it, so the probe that runs right after
 * a stall still sees it: the live histogram is read along with the last
 * finished window.
 */
export class LoopDelay {
  readonly #histogram: IntervalHistogram
  readonly #timer: NodeJS.Timeout
  #lastWindowMax = 0

  constructor (windowMs = 1_000) {
    this.#histogram = monitorEventLoopDelay({ resolution: 10 })
    this.#histogram.enable()
    this.#timer = setInterval(() => {
      this.#lastWindowMax = this.#histogram.max / 1e6
      this.#histogram.reset()
    }, windowMs)
    this.#timer.unref()
  }

  /** Milliseconds: the largest delay seen in the last window and the current one. */
  get maxMs (): number {
    return Math.max(this.#lastWindowMax, this.#histogram.max / 1e6)
  }

  close (): void {
    clearInterval(this.#timer)
    this.#histogram.disable()
  }
}
