import { SecretScrubber } from './scrubber.js'

/**
 * The process-wide secret registry. Logs are a process-wide resource (fd 2), so
 * the values to scrub from them are too: the logger may be built before the
 * plugin that learns the secrets, and several loggers may exist.
 */
export const secretRegistry = new SecretScrubber()

/** Register a value for scrubbing from every pywatt log line. Returns false if ignored. */
export function registerSecret (value: string): boolean {
  return secretRegistry.add(value)
}
