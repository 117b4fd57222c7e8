/** One readiness check: resolves when its part of the module is ready, rejects (or throws) naming why not. */
export interface ReadyCheck {
  name: string
  check: () => void | Promise<void>
}

/** A check's outcome as `/ready` reports it. */
export interface CheckState {
  name: string
  ok: boolean
  /** Why it failed; never a secret (check errors are built by this package or by drivers behind the scrubber). */
  error?: string
}

export interface ReadinessReport {
  ready: boolean
  checks: CheckState[]
}

export interface ReadinessOptions {
  /** Milliseconds a check's outcome is reused, so a probe storm does not hammer the database. */
  cacheTtl: number
  /** Milliseconds one check may take before it counts as failed. */
  timeout: number
}

function timeLimit (work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const limit = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)
  })
  return Promise.race([work, limit]).finally(() => clearTimeout(timer))
}

/**
 * Runs the readiness checks, each with its own timeout, all at once, and
 * reuses a round's outcome for `cacheTtl` milliseconds; probes that arrive
 * while a round runs share it. Live checks (cheap, in-memory state such as
 * "a channel is connected") run on every probe.
 */
export class Readiness {
  readonly #cached: ReadyCheck[]
  readonly #live: ReadyCheck[]
  readonly #opts: ReadinessOptions
  #round: Promise<CheckState[]> | null = null
  #roundAt = 0

  constructor (cached: ReadyCheck[], live: ReadyCheck[], opts: ReadinessOptions) {
    this.#cached = cached
    this.#live = live
    this.#opts = opts
  }

  async #run (c: ReadyCheck): Promise<CheckState> {
    try {
      await timeLimit(Promise.resolve().then(c.check), this.#opts.timeout)
      return { name: c.name, ok: true }
    } catch (err) {
      return { name: c.name, ok: false, error: err instanceof Error ? err.message : String(err) }
    }
  }

  async report (now = Date.now()): Promise<ReadinessReport> {
    if (this.#round === null || now - this.#roundAt >= this.#opts.cacheTtl) {
      this.#roundAt = now
      this.#round = Promise.all(this.#cached.map((c) => this.#run(c)))
    }
    const [cached, live] = await Promise.all([this.#round, Promise.all(this.#live.map((c) => this.#run(c)))])
    const checks = [...live, ...cached]
    return { ready: checks.every((c) => c.ok), checks }
  }
}
