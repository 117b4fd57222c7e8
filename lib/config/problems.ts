import { ERR_PYWATT_CONFIG } from '../errors.js'

/** A configuration field that could not be filled. Nothing in it quotes a value. */
export interface ConfigProblem {
  readonly key: string
  /** Where it was read from: `init.env PORT`, `environment PORT`, `init.env or environment PORT`, `secret DB_PASSWORD`, `default`. */
  readonly source: string
  /** `not set`, `invalid`, or `unavailable (<why>)` for a secret the store could not give. */
  readonly reason: string
  /** What the schema takes, with the rule the value broke (`an integer (Expected integer to be greater or equal to 1)`). */
  readonly expected: string
}

/** The error a start with configuration problems refuses with: every problem in one message, and as `problems`. */
export function configError (problems: readonly ConfigProblem[]): Error & { problems: readonly ConfigProblem[] } {
  const listed = problems.map((p) => `${p.key} from ${p.source}: ${p.reason}, expected ${p.expected}`).join('; ')
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`
  return Object.assign(new ERR_PYWATT_CONFIG(`${count}: ${listed}`), { problems })
}
