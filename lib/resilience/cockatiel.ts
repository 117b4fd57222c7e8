import type * as Cockatiel from 'cockatiel'
import { loadPackage } from '../runtime/lazy-package.js'

let loaded: typeof Cockatiel | undefined

/**
 * cockatiel (circuit breakers, backoff), loaded on first use: importing it
 * costs 15–40 ms of every cold start, and a module without channels or port
 * negotiation never needs it.
 */
export function cockatiel (): typeof Cockatiel {
  loaded ??= loadPackage<typeof Cockatiel>('cockatiel')
  return loaded
}

/** A breaker's state as the suite reports it (an isolated breaker counts as open). */
export type BreakerState = 'closed' | 'open' | 'half-open'

/** Name a cockatiel `CircuitState`. */
export function breakerStateName (state: Cockatiel.CircuitState): BreakerState {
  const { CircuitState } = cockatiel()
  return state === CircuitState.Closed ? 'closed' : state === CircuitState.HalfOpen ? 'half-open' : 'open'
}
