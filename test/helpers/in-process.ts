import Fastify, { type FastifyInstance } from 'fastify'
import { FakeOrchestrator } from './fake-orchestrator.js'
import { captureLogger } from './log-capture.js'

/** A Fastify app in this process, logging to a capture, its orchestrator double, closed when the test ends. */
export function inProcessModule (t: { after: (fn: () => unknown) => void }): { orch: FakeOrchestrator, log: ReturnType<typeof captureLogger>, app: FastifyInstance } {
  const orch = new FakeOrchestrator()
  const log = captureLogger()
  const app = Fastify({ loggerInstance: log.logger })
  t.after(() => app.close())
  return { orch, log, app }
}
