import type { FastifyBaseLogger } from 'fastify'
import { REDACTED } from '../logging/scrubber.js'
import type { RotationEvent, SecretStore } from '../secrets/store.js'
import { coerce } from './coerce.js'
import type { ConfigField } from './schema.js'
import { registerSecretValue } from './scrub.js'

/** Configuration fields that took a rotated secret's new value. */
export interface ConfigChange {
  /** The keys whose value changed. */
  readonly keys: readonly string[]
  /** The rotation that changed them, when the orchestrator named one. */
  readonly rotationId: string | undefined
}

/** Told after the configuration took new values. */
export type ConfigChangeListener = (change: ConfigChange) => void | Promise<void>

/**
 * `fastify.pywatt.config`: a frozen object whose fields read the current
 * values, so that a reference taken at start sees a rotated secret's new value,
 * and the subscribers told when that happens. Serialised (a logged config, a
 * reply), the fields read from secrets are `[REDACTED]`: value scrubbing
 * cannot see a secret that is logged as a JSON number.
 */
export class LiveConfig {
  /** The object handed out: frozen; each field a getter of the current value. */
  readonly view: Readonly<Record<string, unknown>>
  readonly #values: Record<string, unknown>
  readonly #listeners = new Set<ConfigChangeListener>()
  readonly #log: FastifyBaseLogger

  constructor (values: Record<string, unknown>, secretKeys: ReadonlySet<string>, log: FastifyBaseLogger) {
    this.#values = { ...values }
    this.#log = log
    const view: Record<string, unknown> = {}
    for (const key of Object.keys(values)) {
      Object.defineProperty(view, key, { enumerable: true, get: () => this.#values[key] })
    }
    Object.defineProperty(view, 'toJSON', {
      value: () => Object.fromEntries(Object.keys(values).map((key) => [key, secretKeys.has(key) ? REDACTED : this.#values[key]]))
    })
    this.view = Object.freeze(view)
  }

  /** Subscribe to changes; returns the unsubscribe function. */
  onChange (listener: ConfigChangeListener): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  /**
   * Follow the rotations of the secrets the fields are read from. Returns the
   * function that stops following them.
   */
  follow (fields: readonly ConfigField[], secrets: Pick<SecretStore, 'onRotate'>): () => void {
    const bySecret = new Map<string, ConfigField[]>()
    for (const field of fields) {
      if (field.from.kind !== 'secret' || !(field.key in this.#values)) continue
      const group = bySecret.get(field.from.name) ?? []
      group.push(field)
      bySecret.set(field.from.name, group)
    }
    const stops = [...bySecret].map(([name, group]) => secrets.onRotate([name], (event) => this.#rotated(group, event)))
    return () => { for (const stop of stops) stop() }
  }

  /** All the fields of one secret take its new value, or none does. */
  #rotated (fields: readonly ConfigField[], event: RotationEvent): void {
    const next = new Map<string, unknown>()
    for (const field of fields) {
      const coerced = coerce(field.schema, event.value)
      if (!coerced.ok) {
        this.#log.error({ key: field.key, secret: event.key, expected: coerced.expected, rotationId: event.rotationId },
          'the rotated secret does not fit the configuration; the previous value stays in use')
        return
      }
      next.set(field.key, coerced.value)
    }
    for (const [key, value] of next) {
      registerSecretValue(value)
      this.#values[key] = value
    }
    const change: ConfigChange = { keys: [...next.keys()], rotationId: event.rotationId }
    for (const listener of this.#listeners) {
      Promise.resolve()
        .then(() => listener(change))
        .catch((err: Error) => this.#log.error({ err, keys: change.keys }, 'a configuration change listener failed'))
    }
  }
}
