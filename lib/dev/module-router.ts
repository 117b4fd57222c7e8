import { EventEmitter } from 'node:events'
import type { ModuleMessage, OrchestratorMessage } from '../protocol/index.js'
import { isAnswer, orchestratorAnswer, routedAnswer, routedRequest } from '../modules/wire.js'

type RouteToModule = Extract<ModuleMessage, { op: 'route_to_module' }>

/** One module as the router sees it. */
export interface RoutableModule {
  /** True while the module runs (it may be between two connections of its channel). */
  readonly running: boolean
  /**
   * Hand the module a message on its channel (or hold it until the channel is
   * back). False when it cannot be taken at all.
   */
  deliver: (message: OrchestratorMessage) => boolean
}

/** A request the router passed on and whose answer it has not seen. */
interface Pending {
  caller: string
  target: string
  endpoint: string
  at: number
}

/** One finished module-to-module call, for the status page. */
export interface RoutedCall {
  caller: string
  target: string
  endpoint: string
  /** `answered`, or the error the router answered itself with (`unknown_target`, `unavailable`). */
  outcome: string
  ms: number
  at: number
}

/**
 * pywatt-dev's side of module-to-module requests (docs/modules.md): a
 * `route_to_module` from one module becomes a `routed_module_message` to its
 * target, and the target's answer (a `route_to_module` to the caller on the
 * answer endpoint) becomes the caller's `routed_module_response`. The
 * router answers itself when the target is unknown or not running, and
 * when a target stops with requests unanswered.
 *
 * Events: `call` ({@link RoutedCall}) when a call ends.
 */
export class ModuleRouter extends EventEmitter {
  readonly #lookup: (id: string) => RoutableModule | undefined
  readonly #pending = new Map<string, Pending>()
  readonly #maxPending: number
  /** Requests routed, answers routed, answers the router made, answers nobody awaited. */
  readonly counts = { requests: 0, answers: 0, refused: 0, unmatched: 0 }

  constructor (lookup: (id: string) => RoutableModule | undefined, opts: { maxPending?: number } = {}) {
    super()
    this.#lookup = lookup
    this.#maxPending = opts.maxPending ?? 100_000
  }

  /** Requests passed on and not answered yet. */
  get pending (): number {
    return this.#pending.size
  }

  /** Route a `route_to_module` that module `from` sent. */
  route (from: string, message: RouteToModule): void {
    if (isAnswer(message)) {
      this.#answer(from, message)
      return
    }
    this.counts.requests++
    const target = this.#lookup(message.target_module_id)
    if (target === undefined) {
      this.#refuse(from, message, 'unknown_target', `no module ${message.target_module_id} runs under pywatt-dev`)
      return
    }
    if (!target.running || !target.deliver(routedRequest(from, message))) {
      this.#refuse(from, message, 'unavailable', `module ${message.target_module_id} is not running`)
      return
    }
    // Oldest first out: a target that never answers must not grow this without bound.
    if (this.#pending.size >= this.#maxPending) this.#pending.delete(this.#pending.keys().next().value as string)
    this.#pending.set(message.request_id, { caller: from, target: message.target_module_id, endpoint: message.target_endpoint, at: Date.now() })
  }

  /** Module `id` stopped: every request it owed an answer gets `unavailable`. */
  stopped (id: string, why: string): void {
    for (const [requestId, pending] of this.#pending) {
      if (pending.target !== id) continue
      this.#pending.delete(requestId)
      this.counts.refused++
      this.#lookup(pending.caller)?.deliver(orchestratorAnswer(id, requestId, 'unavailable', `module ${id} stopped before it answered (${why})`))
      this.#ended(pending, 'unavailable')
    }
  }

  #answer (from: string, message: RouteToModule): void {
    const pending = this.#pending.get(message.request_id)
    if (pending === undefined || pending.target !== from) {
      this.counts.unmatched++
    } else {
      this.#pending.delete(message.request_id)
      this.#ended(pending, 'answered')
    }
    this.counts.answers++
    // Delivered even when unmatched: the caller decides what a late answer is.
    this.#lookup(message.target_module_id)?.deliver(routedAnswer(from, message))
  }

  #refuse (from: string, message: RouteToModule, code: 'unknown_target' | 'unavailable', why: string): void {
    this.counts.refused++
    this.#lookup(from)?.deliver(orchestratorAnswer(message.target_module_id, message.request_id, code, why))
    this.#ended({ caller: from, target: message.target_module_id, endpoint: message.target_endpoint, at: Date.now() }, code)
  }

  #ended (pending: Pending, outcome: string): void {
    const now = Date.now()
    const call: RoutedCall = { caller: pending.caller, target: pending.target, endpoint: pending.endpoint, outcome, ms: now - pending.at, at: now }
    this.emit('call', call)
  }
}
