import { runModule } from '../plugins/index.js'
import { exampleJwtOptions, exampleOptions, registerRoutes } from './app.js'

// Exactly how an orchestrator starts the module: Init on stdin, protocol on stdout.
// Embedded SQLite and an in-memory cache by default. When the module's
// environment names DATABASE_URL / REDIS_URL (pywatt-dev passes its own on), the
// same code runs on those servers: the URLs themselves are asked for as
// secrets, so they arrive through the orchestrator and are scrubbed from logs.
// runModule refuses a start it cannot complete (no listener, no port agreed)
// with exit 2, and stops on SIGTERM/SIGINT.
await runModule(registerRoutes, {
  pywatt: exampleOptions({
    ...(process.env.DATABASE_URL === undefined ? {} : { db: { urlSecret: 'DATABASE_URL' } }),
    ...(process.env.REDIS_URL === undefined ? {} : { cache: { urlSecret: 'REDIS_URL', namespace: process.env.EXAMPLE_CACHE_NAMESPACE ?? 'example' } })
  }),
  jwt: exampleJwtOptions(),
  metrics: true
})
