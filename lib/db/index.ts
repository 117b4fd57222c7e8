export { Database, createDatabase, createDriver } from './database.js'
export { parseDatabaseUrl, resolveDatabaseConfig, dataDirectory, DEFAULT_POOL, DEFAULT_SQLITE_FILE } from './config.js'
export type { DatabaseOptions, Dialect, ExecuteResult, PoolOptions, Queryable, Row, TransactionBody } from './types.js'
export type { MigrateOptions, MigrationResult } from './migrations/runner.js'
