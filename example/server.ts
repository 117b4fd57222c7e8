import { closeOnSignals } from '../plugins/index.js'
import { buildApp } from './app.js'

// Exactly how an orchestrator starts the module: Init on stdin, protocol on stdout.
const app = await buildApp()
await app.pywatt.listen()
closeOnSignals(app)
