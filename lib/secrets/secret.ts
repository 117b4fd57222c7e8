import { inspect } from 'node:util'
import { REDACTED } from '../logging/scrubber.js'

/**
 * A secret that does not print itself. String conversion, JSON, template
 * strings and `util.inspect` (console.log, pino's error serialiser) all give
 * `[REDACTED]`; only `reveal()` gives the value, so a secret that ends up in a
 * reply, a log field or an error message by mistake stays hidden even where
 * value scrubbing cannot see it (a response body, a third-party log sink).
 */
export class Secret {
  /** The secret's name (not its value: a name is not secret). */
  readonly name: string
  readonly #read: () => string

  /** @internal `read` returns the current value, so a wrapper follows rotation. */
  constructor (name: string, read: () => string) {
    this.name = name
    this.#read = read
  }

  /** The value, as it is now (after a rotation, the new one). */
  reveal (): string {
    return this.#read()
  }

  toString (): string {
    return REDACTED
  }

  toJSON (): string {
    return REDACTED
  }

  [Symbol.toPrimitive] (): string {
    return REDACTED
  }

  [inspect.custom] (): string {
    return REDACTED
  }
}
