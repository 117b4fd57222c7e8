import { fileURLToPath } from 'node:url'
import type { DevOrchestrator } from '../../lib/dev/orchestrator.js'
import { ModuleRouter, type RoutedCall } from '../../lib/dev/module-router.js'
import type { ModuleMessage } from '../../lib/protocol/index.js'
import { startModule } from './modules.js'

/** The fixture of the module-to-module tests (built: `npm run build`). */
export const MODULES_PEER = fileURLToPath(new URL('../../dist/test/fixtures/modules-peer.js', import.meta.url))

type RouteToModule = Extract<ModuleMessage, { op: 'route_to_module' }>

/** How one module of a mesh is started. */
export interface MeshModule {
  id: string
  env?: Record<string, string>
  /** Offer no channel: `route_to_module` is read from, and delivered on, stdio. */
  stdioOnly?: boolean
}

/** One started module: its orchestrator, stderr lines and HTTP base URL. */
export interface MeshMember {
  dev: DevOrchestrator
  stderr: string[]
  url: string
  /** POST `body` as JSON to `path` of the module, resolve with the JSON answer. */
  post: (path: string, body: unknown) => Promise<any>
}

/**
 * Several fixture modules, each under its own DevOrchestrator with a TCP
 * channel, and a ModuleRouter that routes the `route_to_module` frames they
 * send between their channel servers (or their stdio, for `stdioOnly`): the
 * orchestrator side of module-to-module requests, as pywatt-dev does it.
 */
export async function startMesh (t: { after: (fn: () => unknown) => void }, members: MeshModule[], entry = MODULES_PEER): Promise<{ modules: Map<string, MeshMember>, router: ModuleRouter, calls: RoutedCall[] }> {
  const modules = new Map<string, MeshMember>()
  const stdioOnly = new Set(members.filter((m) => m.stdioOnly === true).map((m) => m.id))
  const router = new ModuleRouter((id) => {
    const dev = modules.get(id)?.dev
    if (dev === undefined) return undefined
    return {
      get running () { return dev.exited === null },
      deliver: (message) => {
        if (stdioOnly.has(id)) {
          dev.send(message)
          return true
        }
        const tcp = dev.channels.tcp
        if (tcp?.socket == null) return false
        tcp.send(message)
        return true
      }
    }
  })
  const calls: RoutedCall[] = []
  router.on('call', (call: RoutedCall) => calls.push(call))
  await Promise.all(members.map(async (m) => {
    const { dev, stderr } = await startModule(t, entry, {
      moduleId: m.id,
      ...(m.stdioOnly === true ? {} : { tcpChannel: {} }),
      ...(m.env === undefined ? {} : { extraEnv: m.env })
    })
    dev.channels.tcp?.on('message', (envelope: { content: ModuleMessage }) => {
      if (envelope.content.op === 'route_to_module') router.route(m.id, envelope.content)
    })
    dev.on('message', (line: ModuleMessage) => {
      if (line.op === 'route_to_module') router.route(m.id, line as RouteToModule)
    })
    dev.on('exit', () => router.stopped(m.id, 'exited'))
    // Several modules start at once on a shared machine.
    await dev.announced(30_000)
    await dev.channels.tcp?.connected()
    const url = `http://${dev.listen}`
    modules.set(m.id, {
      dev,
      stderr,
      url,
      post: async (path, body) => {
        const res = await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
        return await res.json()
      }
    })
  }))
  return { modules, router, calls }
}
