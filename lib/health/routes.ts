import type { FastifyInstance } from 'fastify'
import { secretRegistry } from '../logging/registry.js'
import type { BuildInfo } from './build-info.js'
import { LoopDelay } from './loop-delay.js'
import { Readiness, type ReadinessReport, type ReadyCheck } from './readiness.js'

/** Liveness settings, defaults filled in. */
export interface HealthSettings {
  path: string
  /** Milliseconds of event-loop delay above which `/health` answers 503; `0` = never. */
  maxEventLoopDelay: number
}

/** Readiness settings, defaults filled in. */
export interface ReadySettings {
  path: string
  cacheTtl: number
  checkTimeout: number
}

/** The liveness route's event-loop monitor and its threshold in milliseconds. */
export interface LoopDelayWatch {
  readonly monitor: { readonly maxMs: number }
  readonly limit: number
}

/** What the probes report about the module. */
export interface ProbeSubject {
  moduleId: string
  build: BuildInfo
  /** Channel states, for the health body. */
  channels: () => Partial<Record<string, string>>
  /** Checks whose outcome may be reused for `cacheTtl` (database, cache, …). */
  checks: ReadyCheck[]
  /** Checks of in-memory state, run on every probe (required channels connected). */
  liveChecks: ReadyCheck[]
}

// Probe routes stay out of route discovery's table walk: the root plugin announces them itself.
const probeConfig = { pywatt: { announce: false } }

/**
 * `/health` answers whether the process serves (liveness): 503 when the event
 * loop stalled past `maxEventLoopDelay`, so a wedged module is restarted.
 * `/ready` answers whether it should get traffic (readiness): 200 only when
 * every check passes, else 503 naming each check and its state. Returns the
 * liveness route's loop monitor, for load shedding, or `null` without one.
 */
export function addProbeRoutes (app: FastifyInstance, subject: ProbeSubject, health: HealthSettings | false, ready: ReadySettings | false): LoopDelayWatch | null {
  let watch: LoopDelayWatch | null = null
  if (health !== false) {
    const started = Date.now()
    const delay = health.maxEventLoopDelay > 0 ? new LoopDelay() : null
    if (delay !== null) {
      watch = { monitor: delay, limit: health.maxEventLoopDelay }
      app.addHook('onClose', async () => { delay.close() })
    }
    app.get(health.path, { config: probeConfig }, async (_request, reply) => {
      const body = {
        status: 'OK',
        module_id: subject.moduleId,
        uptime_s: Math.round((Date.now() - started) / 1000),
        version: subject.build.version,
        git: subject.build.gitCommit,
        time: subject.build.buildTime,
        node: process.version,
        channels: subject.channels()
      }
      const stalled = delay === null ? 0 : delay.maxMs
      if (stalled > health.maxEventLoopDelay) {
        return await reply.code(503).header('retry-after', '1').send({
          ...body,
          status: 'unhealthy',
          reason: 'event loop delay',
          event_loop_delay_ms: Math.round(stalled),
          max_event_loop_delay_ms: health.maxEventLoopDelay
        })
      }
      return body
    })
  }
  if (ready !== false) {
    const readiness = new Readiness(subject.checks, subject.liveChecks, { cacheTtl: ready.cacheTtl, timeout: ready.checkTimeout })
    app.get(ready.path, { config: probeConfig }, async (_request, reply) => {
      const report = await readiness.report()
      return await reply.code(report.ready ? 200 : 503).send(readyBody(report))
    })
  }
  return watch
}

function readyBody (report: ReadinessReport): { status: string, checks: Record<string, { ok: boolean, error?: string }> } {
  const checks: Record<string, { ok: boolean, error?: string }> = {}
  for (const c of report.checks) {
    checks[c.name] = c.error === undefined ? { ok: c.ok } : { ok: c.ok, error: secretRegistry.scrub(c.error) }
  }
  return { status: report.ready ? 'ready' : 'not ready', checks }
}
