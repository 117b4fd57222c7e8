import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { TSchema } from '#typebox'
import type { ChannelSet, ModuleMessageDelivery } from '../channels/channel-set.js'
import type { ChannelKind } from '../channels/options.js'
import { settleWithin } from '../lifecycle/deadline.js'
import type { StdioChannel } from '../transport/stdio-channel.js'
import { Carrier } from './carrier.js'
import { ModuleClient } from './client.js'
import { fetchRequest, fetchResponse, serveFetch } from './fetch.js'
import { HandlerRegistry } from './handlers.js'
import type { ModulesSettings } from './options.js'
import type { ModuleFetchInit, ModuleHandleOptions, ModuleHandler, ModuleRequestOptions, Modules } from './types.js'
import { decodeAnswer, decodeRouted, encodeAnswer, FETCH_ENDPOINT, type IncomingRequest, type Outcome } from './wire.js'

/** What {@link attachModules} needs. */
export interface AttachModulesOptions {
  app: FastifyInstance
  channels: ChannelSet
  /** The stdio link, whose module-to-module messages are taken too; `null` standalone. */
  stdio: StdioChannel | null
  standalone: boolean
  settings: ModulesSettings
  log: FastifyBaseLogger
}

/** `fastify.pywatt.modules` and its end. */
export interface AttachedModules {
  modules: Modules
  /**
   * Reject pending requests, answer new ones `unavailable`, and wait for the
   * handlers running now (at most `drainTimeout` ms).
   */
  close: (drainTimeout: number) => Promise<void>
}

const STOPPING = 'the module is stopping'

/**
 * Module-to-module requests (docs/modules.md): takes the module messages of
 * every channel (`channels.onModuleMessage`, and stdio's), sends answers on
 * the channel their request came on, and builds `fastify.pywatt.modules`.
 */
export function attachModules (opts: AttachModulesOptions): AttachedModules {
  const { app, channels, log } = opts
  const carrier = new Carrier(channels, { stdio: opts.settings.stdio, standalone: opts.standalone, log })
  const client = new ModuleClient(carrier, opts.settings, log)
  const handlers = new HandlerRegistry(log, new Map([[FETCH_ENDPOINT, async (request: IncomingRequest) => await serveFetch(app, request.source, request.value)]]))
  let stopping = false

  const answer = (origin: ChannelKind, request: Pick<IncomingRequest, 'source' | 'requestId' | 'endpoint'>, outcome: Outcome): void => {
    let message
    try {
      // A request that named no endpoint came from a Rust sender: it reads the bare value.
      message = encodeAnswer(request.source, request.requestId, outcome, request.endpoint === '')
    } catch (err) {
      log.error({ err, source: request.source, requestId: request.requestId }, 'a module request handler answered a value that cannot be written as JSON')
      message = encodeAnswer(request.source, request.requestId, { ok: false, error: { code: 'handler_error', message: 'the handler failed', statusCode: 500 } })
    }
    carrier.answer(origin, message)
  }

  const serve = (origin: ChannelKind, request: IncomingRequest): void => {
    if (stopping) {
      answer(origin, request, { ok: false, error: { code: 'unavailable', message: STOPPING, statusCode: 503 } })
      return
    }
    handlers.serve(request).then((outcome) => answer(origin, request, outcome), /* c8 ignore next */ () => {})
  }

  const onMessage = (delivery: ModuleMessageDelivery): void => {
    const { message, channel } = delivery
    if (message.op === 'routed_module_response') {
      let incoming
      try {
        incoming = decodeAnswer(message)
      } catch (err) {
        log.warn({ err, source: message.source_module_id, channel }, 'a module answer that is not JSON: dropped')
        return
      }
      if (incoming !== null) client.answer(incoming)
      return
    }
    let routed
    try {
      routed = decodeRouted(message)
    } catch (err) {
      log.warn({ err, source: message.source_module_id, channel }, 'a module request that cannot be read: answered invalid_payload')
      answer(channel, { source: message.source_module_id, requestId: message.original_request_id, endpoint: 'unknown' },
        { ok: false, error: { code: 'invalid_payload', message: (err as Error).message, statusCode: 400 } })
      return
    }
    if ('answer' in routed) client.answer(routed.answer)
    else serve(channel, routed.request)
  }

  channels.onModuleMessage(onMessage)
  if (opts.stdio !== null) {
    const router = opts.stdio.router
    router.on('routed_module_message', (message) => channels.deliverModuleMessage({ op: 'routed_module_message', message, channel: 'stdio' }))
    router.on('routed_module_response', (message) => channels.deliverModuleMessage({ op: 'routed_module_response', message, channel: 'stdio' }))
  }

  const modules: Modules = {
    request: async (target: string, endpoint: string, payload: unknown, options?: ModuleRequestOptions<TSchema, TSchema>) =>
      await client.request(target, endpoint, payload, options) as never,
    fetch: async (target: string, path: string, init: ModuleFetchInit = {}): Promise<Response> => {
      const { timeout, traceparent, tracestate, signal, ...rest } = init
      const options: ModuleRequestOptions<TSchema, TSchema> = {}
      if (timeout !== undefined) options.timeout = timeout
      if (traceparent !== undefined) options.traceparent = traceparent
      if (tracestate !== undefined) options.tracestate = tracestate
      if (signal != null) options.signal = signal
      const value = await client.request(target, FETCH_ENDPOINT, await fetchRequest(path, rest), options)
      return fetchResponse(target, value)
    },
    handle: (endpoint: string, optsOrHandler: ModuleHandleOptions<TSchema, TSchema> | ModuleHandler, handler?: ModuleHandler): void => {
      handlers.handle(endpoint, optsOrHandler, handler)
    },
    stats: () => ({ pending: client.pending, serving: handlers.serving })
  }

  return {
    modules,
    close: async (drainTimeout) => {
      stopping = true
      client.close(STOPPING)
      if (!await settleWithin(handlers.settled(), drainTimeout)) {
        log.error({ serving: handlers.serving, drainTimeout }, 'module request handlers still running at the drain deadline: their answers are lost')
      }
      carrier.close()
    }
  }
}
