import type { ConnectionOptions } from 'node:tls'
import type { Readable, Writable } from 'node:stream'
import type { ExitCode } from '../lib/lifecycle/exit-codes.js'
import type { PyWattSerializableOptions } from '../lib/options.js'
import type { EndpointAnnounce, InitBlob } from '../lib/protocol/index.js'
import type { kInternals, Internals } from '../lib/internals.js'
import type { StopReason } from '../lib/runtime/runtime.js'
import type { SecretStore } from '../lib/secrets/store.js'
import type { Database } from '../lib/db/index.js'
import type { Cache } from '../lib/cache/index.js'
import type { StdioChannel } from '../lib/transport/stdio-channel.js'
import type { ChannelSet } from '../lib/channels/channel-set.js'
import type { BuildInfo } from '../lib/health/build-info.js'
import type { Modules } from '../lib/modules/types.js'
import type { PyWattServices } from '../lib/services/discovery-client.js'
import type { TObject } from '#typebox'
import type { ConfigChangeListener } from '../lib/config/live.js'

/*
 * The public types of the root plugin and its place in Fastify's own types.
 * Sub-plugins add members to PyWattNamespace by augmenting this module.
 */

/** Streams that replace the process's stdin/stdout (tests, embedding). */
export interface PyWattIo {
  input: Readable
  output: Writable
  /** Called instead of `process.exit` when the module would exit. */
  exit?: (code: ExitCode) => void
}

type DbOption = Exclude<NonNullable<PyWattSerializableOptions['db']>, false>

/** Options of the root `pywatt` plugin. */
export interface PyWattOptions extends Omit<PyWattSerializableOptions, 'db'> {
  /**
   * `fastify.pywatt.db`: URL secret, URL, discrete settings (`host`, `port`,
   * `user`, `database`, `passwordSecret`) or SQLite settings; `false` to leave
   * it out (default: SQLite, opened on first use). `tls` takes node:tls
   * options (CA, client certificate, as Buffers or strings) and turns TLS on.
   */
  db?: false | (DbOption & { tls?: ConnectionOptions })
  /**
   * Talk to the orchestrator over these streams instead of the process's stdio.
   * With `io`, the stdout guard is not installed and the process is not exited
   * unless `io.exit` does it.
   */
  io?: PyWattIo
  /**
   * TLS settings (CA, client certificate…) for a TCP channel whose Init entry
   * has `tls_enabled: true`. Without them Node's defaults apply (system CAs,
   * server name checked).
   */
  channelTls?: ConnectionOptions
  /**
   * The module's typed configuration: a TypeBox object schema whose fields are
   * filled from `init.env`, the process environment, or a secret (schema
   * option `secret`), coerced to their types and checked at start. The
   * result is `fastify.pywatt.config`; say its type through {@link PyWattConfig}.
   */
  config?: TObject
}

/**
 * The type of `fastify.pywatt.config`: empty until the app merges its
 * schema's type in (`runModule` types it from its `config` option itself).
 *
 * ```ts
 * declare module 'fastify-pywatt' { interface PyWattConfig extends Static<typeof Config> {} }
 * ```
 */
export interface PyWattConfig {}

/**
 * `fastify.pywatt`. Sub-plugins add members through declaration merging.
 */
export interface PyWattNamespace {
  /** `init.module_id` (or `PYWATT_MODULE_ID` / `standalone` in standalone mode). */
  readonly moduleId: string
  /** The Init blob, frozen. */
  readonly init: Readonly<InitBlob>
  /** True when running without an orchestrator. */
  readonly standalone: boolean
  /** The module's secrets. */
  readonly secrets: SecretStore
  /** The stdio link to the orchestrator; `null` in standalone mode. For sub-plugins. */
  readonly channel: StdioChannel | null
  /**
   * Every link to the orchestrator: stdio and the TCP / Unix-socket channels
   * of the Init blob, with per-channel state and counters, failover sends and
   * the module-to-module message hook.
   */
  readonly channels: ChannelSet
  /**
   * Requests to other modules (`request`, `fetch`) and the endpoints this
   * module serves them (`handle`), routed by the orchestrator.
   */
  readonly modules: Modules
  /** The `source` for HTTP-over-IPC replies (docs/protocol.md §9.2). */
  readonly replySource: string
  /** What the module's build recorded (`pywatt-build-info`); `"unknown"` where nothing did. */
  readonly build: Readonly<BuildInfo>
  /**
   * Bind the address of `init.listen` (HOST/PORT standalone), then send
   * `announce` once. Resolves with the announced `listen` string.
   */
  listen: () => Promise<string>
  /** The endpoints that are (or will be) announced. */
  endpoints: () => EndpointAnnounce[]
  /**
   * Stop as for an orchestrator `shutdown`: stop reading, drain with the
   * deadline, close the app, flush stdout, then exit (unless `exitOnStop` is false).
   */
  stop: (reason?: StopReason) => Promise<void>
  /** The database (option `db`; absent with `db: false`). */
  readonly db: Database
  /** The cache (option `cache`; absent with `cache: false`). */
  readonly cache: Cache
  /**
   * Service providers: `register` one, `discover` those of a type, over the
   * discovery endpoint (option `discovery`, else `PYWATT_DISCOVERY_ADDRESS`).
   */
  readonly services: PyWattServices
  /**
   * The configuration the `config` schema describes, checked at start; a
   * field read from a secret follows its rotations. Empty without `config`.
   */
  readonly config: Readonly<PyWattConfig>
  /** Be told which configuration keys a secret rotation changed; returns the unsubscribe function. */
  onConfigChange: (listener: ConfigChangeListener) => () => void
  /** @internal State shared with the sub-plugins. */
  readonly [kInternals]: Internals
}

/** Per-route settings read by fastify-pywatt, under the route's `config.pywatt`. */
export interface PyWattRouteConfig {
  /** `false` keeps the route out of the announced endpoints. */
  announce?: boolean
  /** Announce the route as protected (`"jwt"`). */
  auth?: 'jwt'
}

declare module 'fastify' {
  interface FastifyInstance {
    pywatt: PyWattNamespace
  }
  interface FastifyContextConfig {
    pywatt?: PyWattRouteConfig
  }
}
