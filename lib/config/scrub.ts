import { registerSecret } from '../logging/registry.js'

/**
 * Register a configuration value read from a secret for log scrubbing, as it
 * is once coerced: the secret store registered the text it received, but a
 * JSON secret's strings are logged one by one and a numeric one as digits.
 */
export function registerSecretValue (value: unknown): void {
  if (typeof value === 'string') registerSecret(value)
  else if (typeof value === 'number' && Number.isFinite(value)) registerSecret(String(value))
  else if (value !== null && typeof value === 'object') {
    for (const inner of Object.values(value)) registerSecretValue(inner)
  }
}
