import { EventWindow } from './window.js'

/** How an objective is judged over time (milliseconds). */
export interface SloWindows {
  /** The short burn-rate window: it lets an alert clear soon after the burn stops (default 5 min). */
  short: number
  /** The long burn-rate window: it keeps a blip from alerting (default 1 h). */
  long: number
  /** Burn rate above which both windows together mean a fast burn (default 14.4: 2 % of a 30-day budget in one hour). */
  burnRate: number
  /** The period the error budget is counted over, in this process (default 24 h). */
  budget: number
}

export const DEFAULT_SLO_WINDOWS: SloWindows = Object.freeze({
  short: 5 * 60_000,
  long: 60 * 60_000,
  burnRate: 14.4,
  budget: 24 * 60 * 60_000
})

/** Where an objective stands at one moment. */
export interface SloStatus {
  name: string
  /** The fraction of events that must be good (0.999). */
  target: number
  /** Of the budget period's allowance of bad events, the fraction not spent yet (below 0 when overspent; 1 with no events). */
  budgetRemaining: number
  /** Bad-event rate over the window divided by the allowed rate (1 - target): 1 spends the budget exactly over its period. */
  burnRate: { short: number, long: number }
  /** Both windows burn faster than `burnRate`. */
  breached: boolean
  /** Breaches that began since the process started. */
  breaches: number
}

/**
 * One objective ("99.9 % of requests are not 5xx"), judged with the
 * multiwindow, multi-burn-rate scheme: a breach is a burn over the threshold
 * in the long window and in the short one; it ends when the short window
 * falls back under it.
 */
export class Objective {
  readonly name: string
  readonly target: number
  readonly #windows: SloWindows
  readonly #short: EventWindow
  readonly #long: EventWindow
  readonly #budget: EventWindow
  #breached = false
  #breaches = 0

  constructor (name: string, target: number, windows: SloWindows) {
    this.name = name
    this.target = target
    this.#windows = windows
    // 60 buckets per burn-rate window, one per minute over the budget period at most 1 440.
    this.#short = new EventWindow(windows.short, Math.max(1_000, windows.short / 60))
    this.#long = new EventWindow(windows.long, Math.max(1_000, windows.long / 60))
    this.#budget = new EventWindow(windows.budget, Math.max(60_000, windows.budget / 1_440))
  }

  record (now: number, bad: boolean): void {
    this.#short.record(now, bad)
    this.#long.record(now, bad)
    this.#budget.record(now, bad)
  }

  #burn (w: EventWindow, now: number): number {
    const { total, bad } = w.counts(now)
    return total === 0 ? 0 : (bad / total) / (1 - this.target)
  }

  /**
   * The status at `now`, and whether a breach began (`'breach'`) or ended
   * (`'recover'`) since the last call.
   */
  evaluate (now: number): { status: SloStatus, change: 'breach' | 'recover' | null } {
    const short = this.#burn(this.#short, now)
    const long = this.#burn(this.#long, now)
    const { total, bad } = this.#budget.counts(now)
    const allowed = total * (1 - this.target)
    const budgetRemaining = total === 0 ? 1 : 1 - bad / allowed
    const threshold = this.#windows.burnRate
    let change: 'breach' | 'recover' | null = null
    if (!this.#breached && short > threshold && long > threshold) {
      this.#breached = true
      this.#breaches++
      change = 'breach'
    } else if (this.#breached && short <= threshold) {
      this.#breached = false
      change = 'recover'
    }
    return {
      status: { name: this.name, target: this.target, budgetRemaining, burnRate: { short, long }, breached: this.#breached, breaches: this.#breaches },
      change
    }
  }
}
