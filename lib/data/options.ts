import { Type } from '#typebox'

const Positive = Type.Integer({ minimum: 1 })

/** `db` option of the root plugin: `false` leaves `fastify.pywatt.db` out. */
export const DbOptionSchema = Type.Union([Type.Literal(false), Type.Object({
  /** `'orchestrator'`: statements go to the orchestrator's Database service (no URL here; `dialect`, `pool`, `commandTimeout` only). */
  via: Type.Optional(Type.Literal('orchestrator')),
  /** With `via: 'orchestrator'`: milliseconds one operation may take (default 5 000). */
  commandTimeout: Type.Optional(Positive),
  /** Name of the secret holding the database URL (fetched at start, followed on rotation). */
  urlSecret: Type.Optional(Type.String({ minLength: 1 })),
  /** A database URL given directly. */
  url: Type.Optional(Type.String({ minLength: 1 })),
  /** SQLite file (relative to `dataDir`) or `:memory:`, when no URL is given. */
  filename: Type.Optional(Type.String()),
  /** Directory of relative SQLite files (default `PYWATT_DATA_DIR`, else `./data`). */
  dataDir: Type.Optional(Type.String({ minLength: 1 })),
  /** `postgres` or `mysql` (MySQL/MariaDB), for discrete settings without a URL. */
  dialect: Type.Optional(Type.Union([Type.Literal('postgres'), Type.Literal('mysql'), Type.Literal('sqlite')])),
  /** Server host (default 127.0.0.1); wins over the URL's. */
  host: Type.Optional(Type.String({ minLength: 1 })),
  port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
  user: Type.Optional(Type.String({ minLength: 1 })),
  /** Database name. */
  database: Type.Optional(Type.String({ minLength: 1 })),
  /** Name of the secret holding the password (fetched at start; a rotation opens a new pool with it). */
  passwordSecret: Type.Optional(Type.String({ minLength: 1 })),
  /** Connection parameters as a URL query gives them (`sslmode`, `sslrootcert`, `ssl-mode`, `ssl-ca`…); they win over the URL's. */
  params: Type.Optional(Type.Record(Type.String(), Type.String())),
  pool: Type.Optional(Type.Object({
    max: Type.Optional(Positive),
    min: Type.Optional(Type.Integer({ minimum: 0 })),
    idleTimeout: Type.Optional(Positive),
    maxLifetime: Type.Optional(Type.Integer({ minimum: 0 })),
    acquireTimeout: Type.Optional(Positive)
  }, { additionalProperties: false })),
  /** PostgreSQL: register `@fastify/postgres` over this pool (`fastify.pg`); default true. */
  fastifyPostgres: Type.Optional(Type.Boolean()),
  /** Migrations applied at start, before `register` resolves: their directory, or `{ dir, table, lockTimeout }`. */
  migrations: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Object({
    dir: Type.String({ minLength: 1 }),
    /** The table that records them (default `pywatt_migrations`). */
    table: Type.Optional(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)?$' })),
    /** Milliseconds to wait for another replica's migrations (default 60 000). */
    lockTimeout: Type.Optional(Type.Integer({ minimum: 1 }))
  }, { additionalProperties: false })]))
}, { additionalProperties: false })])

const RedisNodeSchema = Type.Object({
  host: Type.String({ minLength: 1 }),
  port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 }))
}, { additionalProperties: false })

/** `cache` option of the root plugin: `false` leaves `fastify.pywatt.cache` out. */
export const CacheOptionSchema = Type.Union([Type.Literal(false), Type.Object({
  /** `'orchestrator'`: commands go to the orchestrator's Cache service (no URL here; `namespace`, `defaultTtl`, `commandTimeout`, `pool` only). */
  via: Type.Optional(Type.Literal('orchestrator')),
  /** With `via: 'orchestrator'`: connections opened to the service (default 4). */
  pool: Type.Optional(Type.Object({ max: Type.Optional(Positive) }, { additionalProperties: false })),
  /** Name of the secret holding the cache URL (fetched at start). */
  urlSecret: Type.Optional(Type.String({ minLength: 1 })),
  /** A cache URL given directly. */
  url: Type.Optional(Type.String({ minLength: 1 })),
  namespace: Type.Optional(Type.String()),
  defaultTtl: Type.Optional(Type.Integer({ minimum: 0 })),
  maxEntries: Type.Optional(Positive),
  maxBytes: Type.Optional(Positive),
  commandTimeout: Type.Optional(Positive),
  /** Redis Cluster: a few of its nodes (the rest are discovered); the URL's credentials and TLS apply to each. */
  cluster: Type.Optional(Type.Array(RedisNodeSchema, { minItems: 1 })),
  /** Redis Sentinel: the sentinels and the master's name; the URL's credentials and database are the master's. */
  sentinel: Type.Optional(Type.Object({
    sentinels: Type.Array(RedisNodeSchema, { minItems: 1 }),
    name: Type.String({ minLength: 1 }),
    /** The sentinels' own credentials (their `requirepass`), when they have some. */
    user: Type.Optional(Type.String({ minLength: 1 })),
    password: Type.Optional(Type.String({ minLength: 1 }))
  }, { additionalProperties: false })),
  /** Redis: register `@fastify/redis` with this cache's client (`fastify.redis`); default true. */
  fastifyRedis: Type.Optional(Type.Boolean())
}, { additionalProperties: false })])
