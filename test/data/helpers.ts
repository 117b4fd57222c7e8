import { connect } from 'node:net'
import { randomBytes } from 'node:crypto'
import type { Test } from 'tap'

/** A name unique to this run, safe as an SQL identifier or a key prefix. */
export function unique (prefix: string): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`
}

function reachable (host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port })
    socket.setTimeout(1000)
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('timeout', () => { socket.destroy(); resolve(false) })
    socket.once('error', () => resolve(false))
  })
}

/**
 * True when the server is up. Under CI=true a missing server fails the run;
 * locally the test is skipped with a loud reason.
 */
export async function requireServer (t: Test, name: string, host: string, port: number): Promise<boolean> {
  if (await reachable(host, port)) return true
  const reason = `${name} is not reachable on ${host}:${port}`
  if (process.env.CI === 'true') {
    t.fail(`${reason} (CI=true: every backend must be tested)`)
  } else {
    process.stderr.write(`\n*** SKIPPING ${name} tests: ${reason} ***\n\n`)
    t.test(`SKIPPED: ${reason}`, { skip: reason }, async () => {})
  }
  return false
}

/** A promise with its resolve function outside. */
export function deferred<T = void> (): { promise: Promise<T>, resolve: (v: T) => void } {
  let resolve!: (v: T) => void
  const promise = new Promise<T>((_resolve) => { resolve = _resolve })
  return { promise, resolve }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
