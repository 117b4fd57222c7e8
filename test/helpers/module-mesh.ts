import { Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { DevCluster } from '../../lib/dev/cluster.js'
import { resolveDevConfig } from '../../lib/dev/config.js'
import type { ModuleHost } from '../../lib/dev/module-host.js'
import type { ModuleRouter, RoutedCall } from '../../lib/dev/module-router.js'
import type { DevOrchestrator } from '../../lib/dev/orchestrator.js'
import { until } from './fake-orchestrator.js'

/** The fixture of the module-to-module tests (built: `npm run build`). */
export const MODULES_PEER = fileURLToPath(new URL('../../dist/test/fixtures/modules-peer.js', import.meta.url))

/** How one module of a mesh is started. */
export interface MeshModule {
  id: string
  env?: Record<string, string>
  /** Offer no channel: `route_to_module` is read from, and delivered on, stdio. */
  stdioOnly?: boolean
}

/** One started module: its host under pywatt-dev, stderr lines and HTTP base URL. */
export interface MeshMember {
  host: ModuleHost
  /** The current run (a restart makes a new one). */
  readonly dev: DevOrchestrator
  stderr: string[]
  readonly url: string
  /** POST `body` as JSON to `path` of the module, resolve with the JSON answer. */
  post: (path: string, body: unknown) => Promise<any>
}

/**
 * Several fixture modules under one real pywatt-dev ({@link DevCluster}), each
 * with a TCP channel (or stdio only): pywatt-dev's router carries their
 * module-to-module requests. Crashed modules restart after 100 ms.
 */
export async function startMesh (t: { after: (fn: () => unknown) => void }, members: MeshModule[], entry = MODULES_PEER): Promise<{ cluster: DevCluster, modules: Map<string, MeshMember>, router: ModuleRouter, calls: RoutedCall[] }> {
  const config = resolveDevConfig({
    gatewayPort: 0,
    heartbeat: 0,
    announceTimeout: 0,
    restart: { initialDelay: 100, maxDelay: 400, maxCrashes: 5, window: 60_000 },
    modules: members.map((m) => ({
      name: m.id,
      command: [process.execPath, entry],
      env: m.env ?? {},
      ...(m.stdioOnly === true ? {} : { channels: { tcp: true } })
    }))
  }, process.cwd())
  const cluster = new DevCluster(config, { out: new Writable({ write: (_c, _e, done) => done() }), raw: true, grace: 3_000 })
  t.after(async () => await cluster.shutdown())
  const calls: RoutedCall[] = []
  cluster.router.on('call', (call: RoutedCall) => calls.push(call))
  const modules = new Map<string, MeshMember>()
  for (const m of members) {
    const host = cluster.host(m.id) as ModuleHost
    const stderr: string[] = []
    host.on('log', (line: string) => stderr.push(line))
    const member: MeshMember = {
      host,
      get dev () { return host.dev as DevOrchestrator },
      stderr,
      get url () { return `http://${String(host.dev?.announcedListen)}` },
      post: async (path, body) => {
        const res = await fetch(member.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
        return await res.json()
      }
    }
    modules.set(m.id, member)
  }
  await cluster.listen()
  await cluster.start()
  await Promise.all([...modules.values()].map(async (m) => await ready(m)))
  return { cluster, modules, router: cluster.router, calls }
}

/** Resolves when the member's current run has announced and connected its channel. */
export async function ready (member: MeshMember, timeout = 30_000): Promise<void> {
  // Several modules start at once on a shared machine.
  await until(() => member.host.running && member.dev.announcedListen !== null && Object.values(member.dev.channels).every((c) => c.socket !== null), timeout)
}
