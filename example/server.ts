import { closeOnSignals, EXIT } from '../plugins/index.js'
import { buildApp } from './app.js'

// Exactly how an orchestrator starts the module: Init on stdin, protocol on stdout.
const app = await buildApp()
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
