import { Type, type Static } from '#typebox'
import { checkOptions } from './check-options.js'
import { DEFAULT_LIMITS, type StdioLimits } from './transport/stdio-channel.js'
import { CacheOptionSchema, DbOptionSchema } from './data/options.js'
import { ChannelsOptionSchema } from './channels/options.js'
import { DiscoveryOptionSchema } from './services/discovery-options.js'
import type { HealthSettings, ReadySettings } from './health/routes.js'

const EndpointOption = Type.Object({
  path: Type.String({ minLength: 1 }),
  methods: Type.Array(Type.String({ minLength: 1 })),
  auth: Type.Optional(Type.String())
}, { additionalProperties: false })

const Bytes = Type.Integer({ minimum: 1 })
const Millis = Type.Integer({ minimum: 1 })

/** The serialisable options of the root plugin, checked at registration. */
export const PyWattOptionsSchema = Type.Object({
  /** Secrets fetched before `register` resolves. */
  secrets: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
  /** Announced endpoints when `fastify-pywatt/route-discovery` is not registered. */
  endpoints: Type.Optional(Type.Array(EndpointOption)),
  /** Force standalone mode on or off (default: `PYWATT_STANDALONE`, else stdin is a TTY). */
  standalone: Type.Optional(Type.Boolean()),
  /** Timeout of one secret request (default 30 000 ms). */
  secretTimeout: Type.Optional(Millis),
  /** How long to wait for the Init line (default 30 000 ms). */
  initTimeout: Type.Optional(Millis),
  /** Deadline for draining in-flight work on stop (default 10 000 ms). */
  drainTimeout: Type.Optional(Millis),
  /** Cap of one stdin line after the Init line (default 64 MiB). */
  maxLineBytes: Type.Optional(Bytes),
  /** Outbound bytes above which stdin is paused (default 16 MiB). */
  highWaterBytes: Type.Optional(Bytes),
  /** Outbound bytes above which non-essential lines are refused (default 64 MiB). */
  maxQueuedBytes: Type.Optional(Bytes),
  /** Messages kept for consumers not registered yet (default 100 000). */
  maxBufferedMessages: Type.Optional(Bytes),
  /** Bytes of those messages, as read (default 64 MiB). */
  maxBufferedBytes: Type.Optional(Bytes),
  /** Answer stdio `heartbeat` with `heartbeat_ack` (default true). */
  heartbeatAck: Type.Optional(Type.Boolean()),
  /** The liveness route: `false` to leave it out (default `{ path: '/health', maxEventLoopDelay: 1000 }`). */
  health: Type.Optional(Type.Union([Type.Literal(false), Type.Object({
    path: Type.Optional(Type.String({ pattern: '^/' })),
    /** Milliseconds of event-loop delay above which it answers 503; `0` = never. */
    maxEventLoopDelay: Type.Optional(Type.Integer({ minimum: 0 }))
  }, { additionalProperties: false })])),
  /** The readiness route: `false` to leave it out (default `{ path: '/ready', cacheTtl: 1000, checkTimeout: 2000 }`). */
  ready: Type.Optional(Type.Union([Type.Literal(false), Type.Object({
    path: Type.Optional(Type.String({ pattern: '^/' })),
    /** Milliseconds a check's outcome is reused. */
    cacheTtl: Type.Optional(Type.Integer({ minimum: 0 })),
    /** Milliseconds one check may take. */
    checkTimeout: Type.Optional(Millis)
  }, { additionalProperties: false })])),
  /** Build info: a path to the file `pywatt-build-info` wrote, or the facts themselves (default: `pywatt-build.json` next to the module's package.json). */
  buildInfo: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Object({
    name: Type.Optional(Type.String()),
    version: Type.Optional(Type.String()),
    gitCommit: Type.Optional(Type.String()),
    gitCommitFull: Type.Optional(Type.String()),
    gitDirty: Type.Optional(Type.Union([Type.Boolean(), Type.Literal('unknown')])),
    buildTime: Type.Optional(Type.String()),
    node: Type.Optional(Type.String())
  }, { additionalProperties: false })])),
  /** Answer 5xx errors with a generic body and the request id, logging the real error (default true). */
  errorHandler: Type.Optional(Type.Boolean()),
  /** Replace known secret values in response bodies by `[REDACTED]` (default false: it costs a scan of every body). */
  scrubResponses: Type.Optional(Type.Boolean()),
  /** Exit the process once a stop requested by the orchestrator or a signal is done (default true on real stdio). */
  exitOnStop: Type.Optional(Type.Boolean()),
  /** `fastify.pywatt.db`: URL secret, URL or SQLite settings; `false` to leave it out (default: SQLite, opened on first use). */
  db: Type.Optional(DbOptionSchema),
  /** `fastify.pywatt.cache`: URL secret, URL or memory settings; `false` to leave it out (default: in-memory). */
  cache: Type.Optional(CacheOptionSchema),
  /** The TCP / Unix-socket channels the Init blob offers: settings, or `false` to ignore them (default: connect them). */
  channels: Type.Optional(ChannelsOptionSchema),
  /** `fastify.pywatt.services`: the discovery endpoint, the time one attempt may take, the retries. */
  discovery: Type.Optional(DiscoveryOptionSchema)
}, { additionalProperties: false })

/** The serialisable options of the root plugin. */
export type PyWattSerializableOptions = Static<typeof PyWattOptionsSchema>

/** Throw `FST_PYWATT_INVALID_OPTIONS` naming the first problem of the root plugin's options. */
export function validateOptions (opts: unknown): asserts opts is PyWattSerializableOptions {
  checkOptions(PyWattOptionsSchema, opts)
}

/** The root plugin's settings with every default filled in, in one place. */
export interface RootSettings {
  limits: StdioLimits
  secretTimeout: number
  drainTimeout: number
  heartbeatAck: boolean
  exitOnStop: boolean
  health: HealthSettings | false
  ready: ReadySettings | false
}

/** Fill the root plugin's defaults (the Options table of the README). */
export function rootSettings (opts: PyWattSerializableOptions): RootSettings {
  return {
    limits: {
      ...DEFAULT_LIMITS,
      initTimeout: opts.initTimeout ?? DEFAULT_LIMITS.initTimeout,
      maxLineBytes: opts.maxLineBytes ?? DEFAULT_LIMITS.maxLineBytes,
      highWaterBytes: opts.highWaterBytes ?? DEFAULT_LIMITS.highWaterBytes,
      maxQueuedBytes: opts.maxQueuedBytes ?? DEFAULT_LIMITS.maxQueuedBytes,
      maxBufferedMessages: opts.maxBufferedMessages ?? DEFAULT_LIMITS.maxBufferedMessages,
      maxBufferedBytes: opts.maxBufferedBytes ?? DEFAULT_LIMITS.maxBufferedBytes
    },
    secretTimeout: opts.secretTimeout ?? 30_000,
    drainTimeout: opts.drainTimeout ?? 10_000,
    heartbeatAck: opts.heartbeatAck ?? true,
    exitOnStop: opts.exitOnStop ?? true,
    health: opts.health === false
      ? false
      : { path: opts.health?.path ?? '/health', maxEventLoopDelay: opts.health?.maxEventLoopDelay ?? 1_000 },
    ready: opts.ready === false
      ? false
      : { path: opts.ready?.path ?? '/ready', cacheTtl: opts.ready?.cacheTtl ?? 1_000, checkTimeout: opts.ready?.checkTimeout ?? 2_000 }
  }
}
