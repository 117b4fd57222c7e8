import type { RoutedCall } from './module-router.js'

/** One request through the gateway. */
export interface GatewayRequest {
  method: string
  path: string
  /** The module it went to, or `null` when none matched. */
  module: string | null
  status: number
  ms: number
  at: number
}

/**
 * What the status page shows of the traffic: the last gateway requests and
 * module-to-module calls, each kept in a bounded ring (newest first).
 */
export class Activity {
  readonly requests: GatewayRequest[] = []
  readonly calls: RoutedCall[] = []
  readonly #max: number

  constructor (max = 100) {
    this.#max = max
  }

  request (entry: GatewayRequest): void {
    this.#push(this.requests, entry)
  }

  call (entry: RoutedCall): void {
    this.#push(this.calls, entry)
  }

  #push<T> (ring: T[], entry: T): void {
    ring.unshift(entry)
    if (ring.length > this.#max) ring.pop()
  }
}
