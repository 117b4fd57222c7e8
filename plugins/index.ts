import type { AddressInfo } from 'node:net'
import type { ConnectionOptions } from 'node:tls'
import type { FastifyBaseLogger, FastifyInstance, FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { ERR_PYWATT_ALREADY_REGISTERED, ERR_PYWATT_INIT, ERR_PYWATT_INVALID_OPTIONS, ERR_PYWATT_LISTEN, ERR_PYWATT_LOGGER_ON_STDOUT } from '../lib/errors.js'
import { EXIT, type ExitCode } from '../lib/lifecycle/exit-codes.js'
import { markRefused } from '../lib/lifecycle/refused.js'
import { settleWithin } from '../lib/lifecycle/deadline.js'
import { pywattLogger } from '../lib/logging/logger.js'
import { flushStderr } from '../lib/logging/stderr-sink.js'
import type { PyWattConfig, PyWattNamespace, PyWattOptions } from './types.js'
import { exitProcess } from '../lib/lifecycle/process-exit.js'
import { writesToStdout } from '../lib/logging/logger-target.js'
import { serverErrorHandler } from '../lib/http/error-handler.js'
import { traceTransports } from '../lib/http/tracing.js'
import { attachToProcess } from '../lib/lifecycle/process-hooks.js'
import { rootSettings, validateOptions, type PyWattSerializableOptions } from '../lib/options.js'
import type { EndpointAnnounce } from '../lib/protocol/index.js'
import { mergeEndpoints } from '../lib/discovery/endpoints.js'
import { RouteTable } from '../lib/discovery/route-table.js'
import { kInternals, type Internals } from '../lib/internals.js'
import { Observation } from '../lib/observe.js'
import { ModuleRuntime, type StopReason } from '../lib/runtime/runtime.js'
import { formatSocketAddress } from '../lib/protocol/listen-address.js'
import { isStandalone } from '../lib/runtime/standalone.js'
import { StartupBudget } from '../lib/runtime/startup-budget.js'
import { attachData } from '../lib/data/attach.js'
import type { ChannelSet } from '../lib/channels/channel-set.js'
import { openChannels } from '../lib/channels/open.js'
import { attachModules } from '../lib/modules/attach.js'
import { loadBuildInfo } from '../lib/health/build-info.js'
import { addProbeRoutes } from '../lib/health/routes.js'
import { scrubResponses } from '../lib/http/scrub-responses.js'
import { requestIdGenerator } from '../lib/http/request-id.js'
import { channelCheck, readinessChecks } from '../lib/health/checks.js'
import { DiscoveryClient } from '../lib/services/discovery-client.js'
import { discoverySettings } from '../lib/services/discovery-options.js'
import { configFields, configSecretNames, type ConfigField } from '../lib/config/schema.js'
import { loadConfig } from '../lib/config/load.js'
import { configError } from '../lib/config/problems.js'
import { LiveConfig, type ConfigChangeListener } from '../lib/config/live.js'

let processStdioOwner: FastifyInstance | null = null

/** Secret names the plugin fetches before `register` resolves. */
function startupSecretNames (opts: Pick<PyWattSerializableOptions, 'secrets' | 'db' | 'cache'>, config: readonly ConfigField[]): string[] {
  const names = [...(opts.secrets ?? []), ...configSecretNames(config)]
  for (const data of [opts.db, opts.cache]) {
    if (data !== undefined && data !== false && data.urlSecret !== undefined) names.push(data.urlSecret)
  }
  if (opts.db !== undefined && opts.db !== false && opts.db.passwordSecret !== undefined) names.push(opts.db.passwordSecret)
  return names
}

/** `db.tls` holds node:tls options (Buffers…): it is kept out of the JSON schema's check, like `channelTls`. */
function splitDbTls (options: Omit<PyWattOptions, 'io' | 'channelTls' | 'config'>): { serializable: unknown, dbTls: ConnectionOptions | undefined } {
  const db: unknown = options.db
  if (db === null || typeof db !== 'object' || !('tls' in db)) return { serializable: options, dbTls: undefined }
  const { tls, ...rest } = db as { tls?: unknown }
  if (tls !== undefined && (tls === null || typeof tls !== 'object' || Array.isArray(tls))) {
    throw new ERR_PYWATT_INVALID_OPTIONS('db.tls: must be an object (node:tls ConnectionOptions)')
  }
  return { serializable: { ...options, db: rest }, dbTls: tls as ConnectionOptions | undefined }
}

const pywattPlugin: FastifyPluginAsync<PyWattOptions> = async (app, options) => {
  // `config` is a TypeBox schema, checked by its own reader rather than the options' JSON schema.
  const { io, channelTls, config: configSchema, ...rest } = options
  const { serializable, dbTls } = splitDbTls(rest)
  validateOptions(serializable)
  const opts = serializable
  const config = configSchema === undefined ? [] : configFields(configSchema)
  if (app.hasDecorator('pywatt')) throw new ERR_PYWATT_ALREADY_REGISTERED()
  const realStdio = io === undefined
  if (realStdio && processStdioOwner !== null) throw new ERR_PYWATT_ALREADY_REGISTERED()

  // With Fastify's logger off, pywatt's own warnings (stray stdout, protocol
  // faults) would vanish; they get a scrubbed stderr logger of their own.
  const log: FastifyBaseLogger = app.log.level === 'silent' ? pywattLogger({ level: 'warn' }) : app.log
  const settings = rootSettings(opts)
  const exitOnStop = settings.exitOnStop
  const exit = (code: ExitCode): void => {
    if (!exitOnStop) return
    if (io === undefined) exitProcess(code)
    else io.exit?.(code)
  }
  const standalone = opts.standalone ?? (realStdio ? isStandalone() : false)

  // Every refusal to start ends the same way: one fatal line, what was started
  // undone (last first), exit 2, then the error thrown out of `register`.
  const undo: Array<() => unknown> = []
  const refuse = async (err: unknown, why: string, fields: Record<string, unknown> = {}, thrown: unknown = err): Promise<never> => {
    log.fatal({ err, ...fields }, why)
    for (const step of undo.reverse()) await step()
    exit(EXIT.REFUSED)
    throw markRefused(thrown)
  }

  if (realStdio && !standalone && writesToStdout(app.log)) {
    const err = new ERR_PYWATT_LOGGER_ON_STDOUT()
    // The app's logger would write the fatal line into the protocol too.
    pywattLogger().fatal({ err }, 'refusing to start: the logger would write into the protocol')
    exit(EXIT.REFUSED)
    throw markRefused(err)
  }

  const budget = new StartupBudget(app.initialConfig.pluginTimeout ?? 0)
  const initTimeout = settings.limits.initTimeout
  const secretTimeout = settings.secretTimeout
  // Said with a refusal that came when a wait cut short by the budget ran out.
  const cutShort = (wanted: number, allowed: number, since: number): { pluginTimeout?: number, hint?: string } =>
    allowed < wanted && Date.now() - since >= allowed
      ? { pluginTimeout: budget.pluginTimeout, hint: "the wait was cut to end within Fastify's pluginTimeout: raise it to wait longer" }
      : {}

  const initAllowed = budget.clamp(initTimeout)
  const initSince = Date.now()
  let runtime: ModuleRuntime
  // Created before the runtime so the secret store reports to it; the metrics plugin sets its observer.
  const observation = new Observation()
  try {
    runtime = await ModuleRuntime.start({
      standalone,
      input: io?.input ?? process.stdin,
      output: io?.output ?? process.stdout,
      limits: { ...settings.limits, initTimeout: initAllowed },
      secretTimeout,
      startupSecrets: startupSecretNames(opts, config),
      heartbeatAck: settings.heartbeatAck,
      env: process.env,
      log,
      observation
    })
  } catch (err) {
    return await refuse(err, 'refusing to start: the orchestrator handshake failed', cutShort(initTimeout, initAllowed, initSince))
  }
  undo.push(() => runtime.detach())
  let detachProcess = (): void => {}
  if (realStdio) {
    processStdioOwner = app
    detachProcess = attachToProcess(runtime, log)
    undo.push(() => {
      detachProcess()
      if (processStdioOwner === app) processStdioOwner = null
    })
  }

  let channels: ChannelSet
  try {
    channels = await openChannels({
      init: runtime.init,
      stdio: runtime.channel,
      option: opts.channels,
      ...(channelTls === undefined ? {} : { tls: channelTls }),
      source: runtime.replySource,
      maxBufferedMessages: settings.limits.maxBufferedMessages,
      maxBufferedBytes: settings.limits.maxBufferedBytes,
      log,
      onShutdown: () => runtime.requestStop('shutdown'),
      clampWait: (ms) => budget.clamp(ms)
    })
  } catch (err) {
    return await refuse(err, 'refusing to start: a required channel is unavailable')
  }
  undo.push(async () => await channels.close())
  const modules = attachModules({ app, channels, stdio: runtime.channel, standalone: runtime.standalone, settings: settings.modules, log })

  const secretsAllowed = budget.clamp(secretTimeout)
  const secretsSince = Date.now()
  // Started first: the configuration's secrets are asked for alongside the `secrets` option's.
  const configLoad = loadConfig(config, {
    initEnv: runtime.init.env,
    env: process.env,
    standalone: runtime.standalone,
    secret: (name) => runtime.secrets.fetch(name, { timeout: secretsAllowed })
  })
  try {
    await runtime.secrets.fetchAll(opts.secrets ?? [], { timeout: secretsAllowed })
  } catch (err) {
    return await refuse(err, 'refusing to start: a startup secret is unavailable', cutShort(secretTimeout, secretsAllowed, secretsSince),
      new ERR_PYWATT_INIT((err as Error).message, { cause: err }))
  }
  const loaded = await configLoad
  if (loaded.problems.length > 0) {
    return await refuse(configError(loaded.problems), 'refusing to start: the configuration is invalid', cutShort(secretTimeout, secretsAllowed, secretsSince))
  }
  const liveConfig = new LiveConfig(loaded.values, new Set(config.flatMap((f) => f.from.kind === 'secret' ? [f.key] : [])), log)
  const unfollowConfig = liveConfig.follow(config, runtime.secrets)

  let stopping: Promise<void> | null = null
  const stop = (reason: StopReason = 'api', code: ExitCode = EXIT.OK): Promise<void> => {
    stopping ??= (async () => {
      log.info({ reason }, 'stopping the module')
      let exitCode = code
      // close() closes the connections idle at that moment only; a keep-alive
      // connection whose request finishes during the drain would hold it open.
      const sweeper = setInterval(() => app.server.closeIdleConnections(), 50)
      const drained = await settleWithin(app.close(), settings.drainTimeout)
      clearInterval(sweeper)
      if (!drained) {
        exitCode = EXIT.FORCED
        log.error({ drainTimeout: settings.drainTimeout }, 'the drain deadline passed; exiting with work still in flight')
      }
      if (runtime.channel !== null && runtime.channel.writer.closedReason === null) {
        await settleWithin(runtime.channel.writer.flush(), 2_000)
      }
      // A reader that is gone or stuck costs the stop at most this long.
      if (realStdio) await flushStderr(1_000)
      exit(exitCode)
    })()
    return stopping
  }
  runtime.onStop((reason, code) => { stop(reason, code).catch(/* c8 ignore next */ () => {}) })

  const build = Object.freeze(loadBuildInfo(opts.buildInfo, process.argv[1], (message, file) => log.warn({ file }, message)))
  const builtin: EndpointAnnounce[] = []
  // Set by pywatt.listen() before it calls app.listen(): onListen hooks run
  // before that call resolves, so the announce has not happened yet.
  let announceFollows = false
  const authHooks: Internals['authHooks'] = new Map()
  const routeTable = new RouteTable(authHooks)
  app.addHook('onRoute', (route) => routeTable.add(route))
  const internals: Internals = {
    routeTable,
    builtinEndpoints: builtin,
    authHooks,
    startup: {
      secretTimeout,
      refuse: (err: Error, why: string): Error => {
        log.fatal({ err }, why)
        exit(EXIT.REFUSED)
        return markRefused(err)
      }
    },
    endpointSource: null,
    bindResolver: null,
    ipcHttpLoad: null,
    loopDelay: null,
    observation,
    database: null
  }
  // What pywatt.listen() announced: the default address of a registered provider.
  let announced: string | null = null
  const services = new DiscoveryClient({
    settings: discoverySettings(opts.discovery, runtime.init.env, process.env),
    source: runtime.moduleId,
    defaultAddress: () => announced ?? runtime.init.listen,
    log
  })
  const namespace: PyWattNamespace = Object.assign(Object.create(null) as Pick<PyWattNamespace, 'db' | 'cache'>, {
    moduleId: runtime.moduleId,
    init: Object.freeze({ ...runtime.init }),
    standalone: runtime.standalone,
    secrets: runtime.secrets,
    channel: runtime.channel,
    channels,
    modules: modules.modules,
    services,
    config: liveConfig.view as Readonly<PyWattConfig>,
    onConfigChange: (listener: ConfigChangeListener) => liveConfig.onChange(listener),
    replySource: runtime.replySource,
    build,
    [kInternals]: internals,
    endpoints: (): EndpointAnnounce[] => {
      const source = internals.endpointSource
      if (source !== null) return source()
      return mergeEndpoints([...builtin, ...(opts.endpoints ?? [])])
    },
    listen: async (): Promise<string> => {
      const resolve = internals.bindResolver
      const target = resolve === null ? runtime.bind : await resolve(runtime.bind)
      let listen = target === runtime.bind
        ? runtime.init.listen
        : target.kind === 'unix' ? target.path : formatSocketAddress(target.host, target.port)
      // An onReady hook's refusal (jwt's unprotected routes) keeps its own code.
      await app.ready()
      announceFollows = true
      try {
        await app.listen(target.kind === 'unix' ? { path: target.path } : { host: target.host, port: target.port })
      } catch (err) {
        announceFollows = false
        throw new ERR_PYWATT_LISTEN(`${listen}: ${(err as Error).message}`, { cause: err })
      }
      if (target.kind === 'tcp' && target.port === 0) {
        // Echoing port 0 would tell the orchestrator nothing; announce what was bound.
        const { port } = app.server.address() as AddressInfo
        listen = formatSocketAddress(target.host, port)
      }
      runtime.announce(listen, namespace.endpoints())
      announced = listen
      return listen
    },
    stop: (reason?: StopReason) => stop(reason)
  })
  app.decorate('pywatt', namespace)
  const db = dbTls === undefined || opts.db === undefined || opts.db === false ? opts.db : { ...opts.db, tls: dbTls }
  try {
    await attachData(app, namespace, { db, cache: opts.cache, secrets: runtime.secrets, channel: runtime.channel, log, internals, clampWait: (ms) => budget.clamp(ms) })
  } catch (err) {
    // A database or cache the settings cannot open, a service the orchestrator refused, or migrations refused (an applied file edited).
    return await refuse(err, 'refusing to start: the data layer cannot be set up')
  }

  if (opts.errorHandler !== false) app.setErrorHandler(serverErrorHandler)
  if (opts.scrubResponses === true) scrubResponses(app)
  // With @fastify/otel registered before us, request spans say how the request came in.
  traceTransports(app, log)

  // The app's generator (its `genReqId` option, or Fastify's), kept for every request that brings no id.
  const previousGenReqId: unknown = Reflect.get(app, 'genReqId')
  if (typeof previousGenReqId === 'function') {
    app.setGenReqId(requestIdGenerator((req) => String(previousGenReqId.call(app, req)), app.initialConfig.requestIdHeader === false))
  }

  for (const probe of [settings.health, settings.ready]) {
    if (probe !== false) builtin.push({ path: probe.path, methods: ['GET'] })
  }
  internals.loopDelay = addProbeRoutes(app, {
    moduleId: runtime.moduleId,
    build,
    channels: () => channels.health(),
    checks: readinessChecks(namespace, opts),
    liveChecks: channels.required.map((name) => ({ name: `channel.${name}`, check: channelCheck(channels, name) }))
  }, settings.health, settings.ready)

  if (!runtime.standalone) {
    app.addHook('onListen', async () => {
      if (announceFollows) return
      log.warn({ listen: runtime.init.listen, bound: app.addresses() },
        'app.listen() was called instead of app.pywatt.listen(): nothing was announced, so the orchestrator does not know where this module listens and routes nothing to it; call app.pywatt.listen(), which binds init.listen and announces')
    })
  }

  app.addHook('onReady', async () => {
    runtime.channel?.router.seal()
    channels.router.seal()
    observation.settle()
  })
  app.addHook('preClose', async () => {
    runtime.detach()
  })
  app.addHook('onClose', async () => {
    unfollowConfig()
    // Answers of the handlers still running need the channels.
    await modules.close(settings.drainTimeout)
    await services.close()
    // Last, so that replies of the drained requests could still use them.
    await channels.close()
    detachProcess()
    if (processStdioOwner === app) processStdioOwner = null
  })
}

/**
 * The root plugin: orchestrator handshake, startup secrets, `fastify.pywatt`.
 * Register it first, and `await` it.
 */
const pywatt = fp(pywattPlugin, { name: 'fastify-pywatt', fastify: '5.x' })
export default pywatt
export { pywatt, pywattPlugin, mergeEndpoints }
export type { PyWattIo, PyWattOptions, PyWattNamespace, PyWattRouteConfig, PyWattConfig } from './types.js'

export { pywattLogger, levelFromEnv, type PyWattLoggerOptions } from '../lib/logging/logger.js'
export { registerSecret } from '../lib/logging/registry.js'
export { stderrSink, type StderrSink, type StderrSinkStats } from '../lib/logging/stderr-sink.js'
export { REDACTED } from '../lib/logging/scrubber.js'
export { closeOnSignals, type CloseOnSignalsOptions } from '../lib/lifecycle/signals.js'
export { EXIT, type ExitCode } from '../lib/lifecycle/exit-codes.js'
export * from '../lib/errors.js'
export type { SecretStore, RotationEvent, RotationListener, FetchOptions } from '../lib/secrets/store.js'
export { Secret } from '../lib/secrets/secret.js'
export type { StopReason } from '../lib/runtime/runtime.js'
export type { ChannelSet, ChannelSetStats, ChannelDelivery, ModuleMessageDelivery, ModuleMessageHandler, SendOptions, StdioStats } from '../lib/channels/channel-set.js'
export type { ChannelStats, ChannelState, SocketChannel, SocketChannelName } from '../lib/transport/socket-channel.js'
export type { ChannelKind, ChannelsOption } from '../lib/channels/options.js'
export type { ModulesOption } from '../lib/modules/options.js'
export type {
  Modules, ModuleFetchInit, ModuleHandleOptions, ModuleHandler, ModuleRequestContext, ModuleRequestOptions, ModuleSchemas
} from '../lib/modules/types.js'
export { UNIX_PATH_MAX, checkUnixPath } from '../lib/channels/config.js'
export type { EndpointAnnounce, InitBlob, ServiceProviderInfo, ServiceType } from '../lib/protocol/index.js'
export { BUILD_INFO_FILE, type BuildInfo } from '../lib/health/build-info.js'
export { runModule, type RunModuleOptions, type ModuleBuilder, type ConfiguredApp } from './run-module.js'
export { configSecret, envName } from '../lib/config/schema.js'
export { registerFormat } from '../lib/schema/formats.js'
export type { ConfigChange, ConfigChangeListener } from '../lib/config/live.js'
export type { ConfigProblem } from '../lib/config/problems.js'
export type { PyWattServices, ProviderRegistration, DiscoverOptions } from '../lib/services/discovery-client.js'
