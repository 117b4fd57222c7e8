import { checked, coerce, describe } from './coerce.js'
import type { ConfigProblem } from './problems.js'
import { configSecretNames, type ConfigField } from './schema.js'
import { registerSecretValue } from './scrub.js'

/** What the configuration is read from. */
export interface ConfigInputs {
  /** `init.env` (empty standalone). */
  readonly initEnv: Readonly<Record<string, string>>
  /** The process environment. */
  readonly env: NodeJS.ProcessEnv
  readonly standalone: boolean
  /** A secret's value from the secret store (the orchestrator; the environment standalone), with the start's timeout. */
  readonly secret: (name: string) => Promise<string>
}

/** The filled configuration, or what kept fields from being filled. */
export interface LoadedConfig {
  readonly values: Record<string, unknown>
  readonly problems: ConfigProblem[]
}

type Outcome = { value: unknown } | { absent: true } | ConfigProblem

function missing (field: ConfigField, source: string, reason: string): Outcome {
  if (field.fallback !== undefined) {
    // Cloned: a default array or object must not be shared with the schema.
    const fallback = checked(field.schema, structuredClone(field.fallback.value))
    return fallback.ok ? { value: fallback.value } : { key: field.key, source: 'default', reason: 'invalid', expected: fallback.expected }
  }
  if (field.optional) return { absent: true }
  return { key: field.key, source, reason, expected: describe(field.schema) }
}

function read (field: ConfigField, text: string, source: string): Outcome {
  const coerced = coerce(field.schema, text)
  return coerced.ok ? { value: coerced.value } : { key: field.key, source, reason: 'invalid', expected: coerced.expected }
}

/** A plain field: `init.env`, then the process environment, then the schema's default. */
function plain (field: ConfigField, name: string, inputs: ConfigInputs): Outcome {
  const fromInit = inputs.initEnv[name]
  if (fromInit !== undefined) return read(field, fromInit, `init.env ${name}`)
  const fromEnv = inputs.env[name]
  if (fromEnv !== undefined) return read(field, fromEnv, `environment ${name}`)
  return missing(field, inputs.standalone ? `environment ${name}` : `init.env or environment ${name}`, 'not set')
}

/**
 * A secret field: the secret store only. A default (or `Type.Optional`) stands
 * in only for a secret the store says is not set (standalone, where secrets
 * come from the environment); under an orchestrator an unanswered secret is a
 * problem, as for the `secrets` option.
 */
function fromSecret (field: ConfigField, name: string, answer: PromiseSettledResult<string>): Outcome {
  const source = `secret ${name}`
  if (answer.status === 'fulfilled') {
    const outcome = read(field, answer.value, source)
    if ('value' in outcome) registerSecretValue(outcome.value)
    return outcome
  }
  const err = answer.reason as { code?: string, message?: string }
  if (err.code === 'FST_PYWATT_SECRET_NOT_SET') return missing(field, source, 'not set')
  return { key: field.key, source, reason: `unavailable (${err.message ?? String(err)})`, expected: describe(field.schema) }
}

/**
 * Fill the configuration from its sources. The secrets are asked for at once,
 * when this is called, so that they are fetched alongside the other startup
 * secrets; every field is then read, and every problem kept, so that one error
 * can name them all.
 */
export async function loadConfig (fields: readonly ConfigField[], inputs: ConfigInputs): Promise<LoadedConfig> {
  const names = configSecretNames(fields)
  const answers = Promise.allSettled(names.map((name) => inputs.secret(name)))
  const outcomes = new Map<ConfigField, Outcome>()
  for (const field of fields) {
    if (field.from.kind === 'env') outcomes.set(field, plain(field, field.from.name, inputs))
  }
  const settled = await answers
  for (const field of fields) {
    if (field.from.kind === 'secret') outcomes.set(field, fromSecret(field, field.from.name, settled[names.indexOf(field.from.name)]))
  }
  const values: Record<string, unknown> = {}
  const problems: ConfigProblem[] = []
  // In the schema's order, whatever the source.
  for (const field of fields) {
    const outcome = outcomes.get(field) as Outcome
    if ('value' in outcome) values[field.key] = outcome.value
    else if ('key' in outcome) problems.push(outcome)
  }
  return { values, problems }
}
