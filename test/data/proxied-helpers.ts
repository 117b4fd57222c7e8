import type { Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import pywatt, { type PyWattOptions } from '../../plugins/index.js'
import { DevServices, type DevServicesOptions } from '../../lib/dev/services.js'
import type { ModuleLine, OrchestratorMessage } from '../../lib/protocol/index.js'
import type { StdioChannel } from '../../lib/transport/stdio-channel.js'
import { FakeOrchestrator } from '../helpers/fake-orchestrator.js'
import { captureLogger } from '../helpers/log-capture.js'

/** How a result travels back: by default at once; a test may hold or drop some. */
export type Relay = (message: OrchestratorMessage, deliver: () => void) => void

export interface Served {
  app: FastifyInstance
  orch: FakeOrchestrator
  channel: StdioChannel
  log: ReturnType<typeof captureLogger>
}

/**
 * A module under an in-process orchestrator whose Database and Cache services
 * are the dev orchestrator's (lib/dev/services.ts), as pywatt-dev serves them.
 */
export async function serveProxied (t: Test, opts: { services?: DevServicesOptions, relay?: Relay, module?: Partial<PyWattOptions> } = {}): Promise<Served> {
  const orch = new FakeOrchestrator()
  const relay = opts.relay ?? ((_m, deliver) => deliver())
  const services = new DevServices(opts.services ?? {}, (m) => relay(m, () => orch.send(m as unknown as Record<string, unknown>)))
  t.after(() => services.close())
  let seen = 0
  orch.output.on('data', () => {
    for (; seen < orch.lines.length; seen++) services.handle(orch.lines[seen] as ModuleLine)
  })
  const log = captureLogger()
  const app = Fastify({ loggerInstance: log.logger })
  t.after(() => app.close())
  orch.init()
  await app.register(pywatt, { io: orch.io, ...opts.module })
  return { app, orch, channel: app.pywatt.channel as StdioChannel, log }
}
