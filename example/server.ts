import { closeOnSignals, EXIT } from '../plugins/index.js'
import { buildApp } from './app.js'

// Exactly how an orchestrator starts the module: Init on stdin, protocol on stdout.
// Embedded SQLite and an in-memory cache by default. When the module's
// environment names DATABASE_URL / REDIS_URL (pywatt-dev passes its own on), the
// same code runs on those servers: the URLs themselves are asked for as
// secrets, so they arrive through the orchestrator and are scrubbed from logs.
const app = await buildApp({
  ...(process.env.DATABASE_URL === undefined ? {} : { db: { urlSecret: 'DATABASE_URL' } }),
  ...(process.env.REDIS_URL === undefined ? {} : { cache: { urlSecret: 'REDIS_URL', namespace: process.env.EXAMPLE_CACHE_NAMESPACE ?? 'example' } })
})
try {
  await app.pywatt.listen()
} catch (err) {
  // Without a listener there is nothing to route to. Exit 2 tells the
  // orchestrator "refused to start" (an address in use, no port agreed), which
  // an uncaught rejection (exit 1, a crash) would not.
  app.log.fatal({ err }, 'refusing to start: the module cannot listen')
  await app.close()
  process.exit(EXIT.REFUSED)
}
closeOnSignals(app)
