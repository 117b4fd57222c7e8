import type { DevCluster } from './cluster.js'
import type { ModuleHost } from './module-host.js'
import { endpointTable } from './pretty.js'

/** The console's commands, as `help` and an unknown command list them. */
export const CONSOLE_COMMANDS = 'rotate [module] K=V, push [module] K=V, heartbeat [module], restart <module>, stop <module>, start <module>, status, routes [module], shutdown'

/** Parse `K=V`. */
export function pair (text: string): [string, string] {
  const eq = text.indexOf('=')
  if (eq <= 0) throw new TypeError(`expected K=V, got '${text}'`)
  return [text.slice(0, eq), text.slice(eq + 1)]
}

/**
 * The module a command names: its first argument when that is a module's
 * name, else the only module (one module needs no name).
 */
function pick (cluster: DevCluster, cmd: string, args: string[]): { host: ModuleHost, rest: string[] } {
  const named = args[0] === undefined ? undefined : cluster.host(args[0])
  if (named !== undefined) return { host: named, rest: args.slice(1) }
  if (cluster.hosts.size === 1) return { host: [...cluster.hosts.values()][0] as ModuleHost, rest: args }
  const names = [...cluster.hosts.keys()].join(', ')
  throw new TypeError(args[0] === undefined || args[0].includes('=')
    ? `${cmd} needs a module: ${cmd} <module>${cmd === 'rotate' || cmd === 'push' ? ' K=V' : ''} (modules: ${names})`
    : `no module '${args[0]}' (modules: ${names})`)
}

function status (cluster: DevCluster): string {
  const now = Date.now()
  const rows = [...cluster.hosts.values()].map((h) => {
    const s = h.snapshot()
    const up = s.startedAt === null ? '' : ` up ${Math.round((now - s.startedAt) / 1000)} s`
    const channels = s.channels.map((c) => `${c.kind} ${c.connected ? 'up' : 'down'}`).join(', ')
    return `  ${s.name}: ${s.state}${s.pid === null ? '' : ` pid ${s.pid}`}${up}, ${s.endpoints.length} endpoint(s), restarts ${s.restarts}` +
      `${channels === '' ? '' : `, ${channels}`}${s.lastExit === null ? '' : `, last exit ${s.lastExit.signal ?? `code ${String(s.lastExit.code)}`}`}`
  })
  return [`${cluster.hosts.size} module(s), gateway ${cluster.url}, status page ${cluster.url}/_pywatt`, ...rows].join('\n')
}

/**
 * Run one console line against the cluster. Resolves `true` for `shutdown`
 * (the caller then ends); reports go through `cluster.say`.
 */
export async function runCommand (cluster: DevCluster, line: string): Promise<boolean> {
  const [cmd = '', ...args] = line.trim().split(/\s+/)
  const say = (text: string, module?: string): void => cluster.say(text, module)
  try {
    switch (cmd) {
      case '':
        return false
      case 'rotate': {
        const { host, rest } = pick(cluster, cmd, args)
        const [k, v] = pair(rest.join(' '))
        const dev = host.dev
        if (dev === null || !host.running) throw new TypeError(`module ${host.name} is not running`)
        // A rotation outlives the run it was sent to: later runs read the secret too.
        host.spec.secrets[k] = v
        const ack = await dev.rotate(k, v)
        say(`rotation ${ack.rotation_id}: ${ack.status}`, host.name)
        return false
      }
      case 'push': {
        const { host, rest } = pick(cluster, cmd, args)
        const [k, v] = pair(rest.join(' '))
        host.spec.secrets[k] = v
        host.dev?.secrets.set(k, v)
        host.dev?.send({ op: 'secret', name: k, value: v })
        return false
      }
      case 'heartbeat': {
        const { host } = pick(cluster, cmd, args)
        host.dev?.heartbeat()
        for (const server of Object.values(host.dev?.channels ?? {})) if (server.socket !== null) server.send({ op: 'heartbeat' })
        return false
      }
      case 'restart': {
        const { host } = pick(cluster, cmd, args)
        say('restarting', host.name)
        await host.restart()
        return false
      }
      case 'stop': {
        const { host } = pick(cluster, cmd, args)
        if (host.state === 'restarting') {
          await host.stop()
          say('restart cancelled: stopped', host.name)
          return false
        }
        if (!host.running) throw new TypeError(`module ${host.name} is not running`)
        say('stopping (shutdown)', host.name)
        await host.stop()
        return false
      }
      case 'start': {
        const { host } = pick(cluster, cmd, args)
        await host.start()
        return false
      }
      case 'status':
        say(status(cluster))
        return false
      case 'routes': {
        const hosts = args.length === 0 ? [...cluster.hosts.values()] : [pick(cluster, cmd, args).host]
        for (const host of hosts) say(endpointTable(host.dev?.announcedListen ?? '', host.dev?.endpoints ?? []), host.name)
        return false
      }
      case 'shutdown':
        return true
      default:
        say(`unknown command '${cmd}' (${CONSOLE_COMMANDS})`)
        return false
    }
  } catch (err) {
    say((err as Error).message)
    return false
  }
}
