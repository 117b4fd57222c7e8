import type { FastifyBaseLogger } from 'fastify'
import { ERR_PYWATT_SECRET_NOT_FOUND, ERR_PYWATT_SECRET_TIMEOUT } from '../errors.js'
import { registerSecret } from '../logging/registry.js'
import { Observation, secondsSince, type SecretRequestOutcome } from '../observe.js'
import {
  parseBoolSecret, parseDurationSecret, parseFloatSecret, parseIntSecret, parseJsonSecret, parseUrlSecret
} from './typed.js'
import { Secret } from './secret.js'

/** Where secret values come from: the orchestrator, or the environment in standalone mode. */
export interface SecretSource {
  /**
   * Ask for `name`. The answer arrives later through {@link SecretStore.receive}
   * (orchestrator), or is returned at once (environment). Throws if it cannot ask.
   */
  request: (name: string) => string | undefined
}

/** A rotated secret whose new value is installed. */
export interface RotationEvent {
  key: string
  value: string
  rotationId: string | undefined
}

/** Called once per subscribed key after its new value is installed. */
export type RotationListener = (event: RotationEvent) => void | Promise<void>

/** Options of {@link SecretStore.fetch}. */
export interface FetchOptions {
  /** Ask the orchestrator even when a current value is cached. */
  refresh?: boolean
  /** Overrides the store's timeout for this call, in milliseconds. */
  timeout?: number
}

interface Pending {
  promise: Promise<string>
  resolve: (value: string) => void
  reject: (err: Error) => void
  timer: NodeJS.Timeout
  /** `performance.now()` when the request went out, for the latency histogram. */
  start: number
}

/**
 * The module's view of its secrets (`fastify.pywatt.secrets`).
 *
 * Replies carry no request id, so they are matched by name (docs/protocol.md §7.1);
 * concurrent fetches of one name share a single `get_secret`. A value is
 * registered for log scrubbing before anything else sees it. On rotation the
 * old value keeps being served until the new one arrives, so requests do not
 * fail in the window between `rotated` and the new `secret`. A `secret` line
 * for a name the module has no use for is ignored: anything that can write to
 * stdin could otherwise grow the cache and the log scrubber without bound.
 */
export class SecretStore {
  readonly #values = new Map<string, string>()
  readonly #rotationIds = new Map<string, string>()
  /** Stale keys, with the rotation that made them stale. */
  readonly #stale = new Map<string, string>()
  readonly #pending = new Map<string, Pending>()
  /** Names whose last request timed out, to report a late answer once. */
  readonly #timedOut = new Set<string>()
  readonly #listeners = new Map<string, Set<RotationListener>>()
  /** Names the module asked for, or said it will ask for while it starts. */
  readonly #asked = new Set<string>()
  readonly #source: SecretSource
  readonly #timeout: number
  readonly #log: FastifyBaseLogger
  readonly #observation: Observation
  #closedReason: Error | null = null
  #ignoredUnsolicited = 0

  constructor (source: SecretSource, timeoutMs: number, log: FastifyBaseLogger, observation = new Observation()) {
    this.#source = source
    this.#timeout = timeoutMs
    this.#log = log
    this.#observation = observation
  }

  /** Names with a cached value. */
  keys (): string[] {
    return [...this.#values.keys()]
  }

  /** True if `name` has a cached value (possibly stale after a rotation). */
  has (name: string): boolean {
    return this.#values.has(name)
  }

  /** True if `name` was rotated and its new value has not arrived yet. */
  isStale (name: string): boolean {
    return this.#stale.has(name)
  }

  /** Requests waiting for the orchestrator. */
  get pendingCount (): number {
    return this.#pending.size
  }

  /** `secret` lines ignored because their name is of no use to the module (see {@link offer}). */
  get ignoredUnsolicited (): number {
    return this.#ignoredUnsolicited
  }

  /**
   * Names the module will fetch while it starts (the `secrets` option, URL
   * secrets): an orchestrator may push their values right after Init, before
   * the requests go out, and those values are taken.
   */
  expect (names: Iterable<string>): void {
    for (const name of names) this.#asked.add(name)
  }

  /** The cached value of `name`; throws `FST_PYWATT_SECRET_NOT_FOUND` if there is none. */
  get (name: string): string {
    const value = this.#values.get(name)
    if (value === undefined) throw new ERR_PYWATT_SECRET_NOT_FOUND(name)
    return value
  }

  /**
   * `name` as a {@link Secret}: printed, logged or serialised it is
   * `[REDACTED]`, `reveal()` returns the current value. Throws
   * `FST_PYWATT_SECRET_NOT_FOUND` if there is no value yet.
   */
  secret (name: string): Secret {
    this.get(name)
    return new Secret(name, () => this.get(name))
  }

  /** The cached value of `name`, or `undefined`. */
  peek (name: string): string | undefined {
    return this.#values.get(name)
  }

  /**
   * The value of `name`: from the cache when it is current, otherwise asked of
   * the orchestrator. Concurrent calls share one request; the wait is bounded.
   */
  fetch (name: string, opts: FetchOptions = {}): Promise<string> {
    const cached = this.#values.get(name)
    if (cached !== undefined && opts.refresh !== true && !this.#stale.has(name)) return Promise.resolve(cached)
    const pending = this.#pending.get(name)
    if (pending !== undefined) return pending.promise
    try {
      return this.#ask(name, opts.timeout ?? this.#timeout)
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /** Fetch several names concurrently; replies are correlated by name. */
  async fetchAll (names: readonly string[], opts: FetchOptions = {}): Promise<Record<string, string>> {
    const values = await Promise.all(names.map((name) => this.fetch(name, opts)))
    return Object.fromEntries(names.map((name, i) => [name, values[i]]))
  }

  /** A safe integer. */
  int (name: string): number { return parseIntSecret(name, this.get(name)) }
  /** A finite number. */
  float (name: string): number { return parseFloatSecret(name, this.get(name)) }
  /** A boolean: true/false/1/0/yes/no/on/off. */
  bool (name: string): boolean { return parseBoolSecret(name, this.get(name)) }
  /** An absolute URL. */
  url (name: string): URL { return parseUrlSecret(name, this.get(name)) }
  /** A parsed JSON document. */
  json<T = unknown> (name: string): T { return parseJsonSecret<T>(name, this.get(name)) }
  /** A duration in milliseconds (`250ms`, `30s`, `5m`, `1h30m`, or a bare integer of ms). */
  duration (name: string): number { return parseDurationSecret(name, this.get(name)) }

  /**
   * Subscribe to rotations of `keys` (`'*'` for all). The listener runs after the
   * new value is installed. Subscribing also marks the keys for refetching when
   * the orchestrator rotates them. Returns an unsubscribe function.
   */
  onRotate (keys: readonly string[] | '*', listener: RotationListener): () => void {
    const names = keys === '*' ? ['*'] : keys
    for (const key of names) {
      let set = this.#listeners.get(key)
      if (set === undefined) {
        set = new Set()
        this.#listeners.set(key, set)
      }
      set.add(listener)
    }
    return () => {
      for (const key of names) {
        const set = this.#listeners.get(key)
        set?.delete(listener)
        // An empty set would still mark the key as wanted on rotation.
        if (set?.size === 0) this.#listeners.delete(key)
      }
    }
  }

  /**
   * A `secret` line from the orchestrator. It is taken (see {@link receive}) for
   * a name the module asked for or expects, subscribed to, or holds a value of
   * (a pushed rotation); any other is logged without its value, counted in
   * {@link ignoredUnsolicited}, and dropped. Returns whether it was taken.
   */
  offer (name: string, value: string, rotationId?: string | null): boolean {
    if (this.#values.has(name) || this.#asked.has(name) || this.#listeners.has(name)) {
      this.receive(name, value, rotationId)
      return true
    }
    const ignored = ++this.#ignoredUnsolicited
    // The first and then at each doubling: a flood of such lines must not flood the log.
    if ((ignored & (ignored - 1)) === 0) {
      this.#log.warn({ secret: name, ignored }, 'ignored a secret value for a name this module never asked for')
    }
    return false
  }

  /**
   * Install a value the module is owed (an orchestrator line that {@link offer}
   * took, or the environment's answer in standalone mode): register it for
   * scrubbing, cache it, settle the waiters, and tell subscribers if it ends a
   * rotation.
   */
  receive (name: string, value: string, rotationId?: string | null): void {
    registerSecret(value)
    const previous = this.#values.get(name)
    const staleFor = this.#stale.get(name)
    const wasStale = this.#stale.delete(name)
    // A refetch answer may not carry the rotation id; it is the one that asked.
    const rotation = rotationId ?? staleFor
    this.#values.set(name, value)
    if (rotation !== undefined) this.#rotationIds.set(name, rotation)
    const pending = this.#pending.get(name)
    if (pending !== undefined) {
      this.#pending.delete(name)
      clearTimeout(pending.timer)
      this.#observe('answered', pending.start)
      pending.resolve(value)
    } else if (this.#timedOut.delete(name)) {
      this.#log.warn({ secret: name }, 'a secret arrived after its request timed out; it is cached for later use')
    }
    if (wasStale || (rotationId != null && previous !== undefined && previous !== value)) {
      this.#notify(name, value, rotation)
    }
  }

  /**
   * A `rotated` notification: mark the keys stale and ask again, in the
   * background, for those this module uses. Throws only if the refetch could not
   * be requested; the caller turns that into an `error` ack.
   */
  rotate (keys: readonly string[], rotationId: string): { duplicate: boolean } {
    const wanted: string[] = []
    // Nothing new: every key already holds, or is fetching, this rotation's value.
    const duplicate = keys.length > 0 && keys.every((key) => this.#rotationIds.get(key) === rotationId || this.#stale.get(key) === rotationId)
    for (const key of keys) {
      if (this.#rotationIds.get(key) === rotationId && !this.#stale.has(key)) continue
      if (this.#values.has(key) || this.#listeners.has(key)) {
        this.#stale.set(key, rotationId)
        wanted.push(key)
      }
    }
    const failed: string[] = []
    let cause: unknown
    for (const key of wanted) {
      let refetch = this.#pending.get(key)?.promise
      if (refetch === undefined) {
        try {
          refetch = this.#ask(key, this.#timeout)
        } catch (err) {
          failed.push(key)
          cause = err
          continue
        }
      }
      refetch.catch((err: Error) => {
        this.#log.error({ err, secret: key, rotationId }, 'could not fetch the rotated secret; the previous value stays in use')
      })
    }
    if (failed.length > 0) {
      throw new Error(`could not request the new value of ${failed.join(', ')}: ${(cause as Error).message}`, { cause })
    }
    return { duplicate }
  }

  /** Fail every waiter and refuse new requests (the channel is gone). */
  close (reason: Error): void {
    this.#closedReason = reason
    for (const [name, pending] of this.#pending) {
      clearTimeout(pending.timer)
      this.#pending.delete(name)
      this.#observe('failed', pending.start)
      pending.reject(reason)
    }
  }

  /** Send one request and register its waiter; throws if the request cannot be sent. */
  #ask (name: string, timeout: number): Promise<string> {
    if (this.#closedReason !== null) throw this.#closedReason
    this.#asked.add(name)
    this.#timedOut.delete(name)
    let resolve!: (value: string) => void
    let reject!: (err: Error) => void
    const promise = new Promise<string>((_resolve, _reject) => { resolve = _resolve; reject = _reject })
    const start = performance.now()
    const timer = setTimeout(() => {
      if (this.#pending.get(name)?.promise !== promise) return
      this.#pending.delete(name)
      this.#timedOut.add(name)
      this.#observe('timeout', start)
      reject(new ERR_PYWATT_SECRET_TIMEOUT(name, timeout))
    }, timeout)
    this.#pending.set(name, { promise, resolve, reject, timer, start })
    try {
      const immediate = this.#source.request(name)
      if (immediate !== undefined) this.receive(name, immediate)
    } catch (err) {
      clearTimeout(timer)
      this.#pending.delete(name)
      this.#observe('failed', start)
      throw err
    }
    return promise
  }

  #observe (outcome: SecretRequestOutcome, start: number): void {
    const seconds = secondsSince(start)
    this.#observation.report((observer) => { observer.secretRequest(outcome, seconds) })
  }

  #notify (key: string, value: string, rotationId: string | undefined): void {
    const listeners = [...(this.#listeners.get(key) ?? []), ...(this.#listeners.get('*') ?? [])]
    for (const listener of listeners) {
      Promise.resolve()
        .then(() => listener({ key, value, rotationId }))
        .catch((err: Error) => this.#log.error({ err, secret: key }, 'secret rotation listener failed'))
    }
  }
}
