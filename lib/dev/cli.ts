import { existsSync, readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { parseArgs, parseEnv } from 'node:util'
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import { DEV_KEEP_MESSAGES, DevOrchestrator } from './orchestrator.js'
import { createGateway, type IpcForward } from './gateway.js'
import { endpointTable, observabilityLine, prettyLogLine } from './pretty.js'
import { runClusterCli } from './cluster-cli.js'
import { pair } from './console.js'
import { DEFAULT_CONFIG_FILE } from './config.js'

const USAGE = `Usage: pywatt-dev [options] -- <module command> [args...]
       pywatt-dev [--config <file>] [--gateway-port <n>] [--raw]

Runs a PyWatt module under a local orchestrator: sends Init, answers get_secret
from the environment and --env-file, prints the announced endpoints, serves an
HTTP gateway to the module, serves its Database and Cache service requests,
sends heartbeats, and stops it with shutdown.

With --config, or with no command and a pywatt.dev.json in the working
directory, it runs every module the config file lists (JSON, or TypeScript
with the typescript package installed), routes gateway requests and
module-to-module requests between them, restarts crashed modules and serves a
status page at /_pywatt on the gateway.

Options:
  --config <file>       the modules to run (pywatt.dev.json, pywatt.dev.ts)
  --env-file <file>     secrets (and nothing else) in .env format; repeatable
  --secret <K=V>        one secret; repeatable
  --module-id <id>      init.module_id (default dev-module)
  --listen <ip:port>    init.listen (default 127.0.0.1:<free port>)
  --gateway-port <n>    port of the local HTTP gateway (default
                        $PYWATT_DEV_GATEWAY_PORT, else 8080; 0 = any)
  --announce-timeout <s>
                        say so when the module has not announced this many
                        seconds after it started (default 10, 0 = never)
  --heartbeat <ms>      heartbeat interval (default 5000, 0 = off)
  --ipc                 the gateway forwards over the module's stdin/stdout
                        (HTTP over IPC; the module registers fastify-pywatt/ipc-http)
  --tcp-channel         offer a TCP channel on 127.0.0.1 (init.tcp_channel)
  --unix-channel <path> offer a Unix-socket channel at <path> (init.ipc_channel)
  --channel-required    mark the offered channels required
  --via <tcp|unix>      the gateway forwards over that channel (implies offering it;
                        the module registers fastify-pywatt/ipc-http)
  --database-url <url>  the database behind the orchestrator's Database service,
                        for modules with db: { via: 'orchestrator' } (default
                        sqlite:pywatt-dev.sqlite, under PYWATT_DATA_DIR or ./data)
  --cache-url <url>     the cache behind its Cache service (default memory:)
  --no-service-echo     results of service operations do not echo the operation
                        (the module then matches them by arrival order)
  --raw                 print the module's stderr as is
  -h, --help            this text

Commands typed on stdin while it runs:
  rotate K=V     rotate secret K to the value V (rotated, then get_secret)
  push K=V       push an unsolicited secret value (a module takes it only
                 for a name it uses)
  heartbeat      send one heartbeat
  routes         print the announced endpoints again
  shutdown       stop the module (Ctrl-C does the same)
With a config file, rotate, push, heartbeat and routes take a module name
first (optional with one module), and restart <module>, stop <module>,
start <module> and status are added.
`

/** Listen on 127.0.0.1:`port`; rejects with the server's error (a port in use) instead of leaving it unhandled. */
async function listenOn (server: Server, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
}

/** Run the `pywatt-dev` command line; resolves with the exit code to use. */
export async function runCli (argv: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      'env-file': { type: 'string', multiple: true },
      secret: { type: 'string', multiple: true },
      'module-id': { type: 'string' },
      listen: { type: 'string' },
      'gateway-port': { type: 'string' },
      'announce-timeout': { type: 'string', default: '10' },
      heartbeat: { type: 'string', default: '5000' },
      raw: { type: 'boolean', default: false },
      ipc: { type: 'boolean', default: false },
      'tcp-channel': { type: 'boolean', default: false },
      'unix-channel': { type: 'string' },
      'channel-required': { type: 'boolean', default: false },
      via: { type: 'string' },
      'database-url': { type: 'string', default: 'sqlite:pywatt-dev.sqlite' },
      'cache-url': { type: 'string', default: 'memory:' },
      'no-service-echo': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false }
    }
  })
  if (values.help === true) {
    out.write(USAGE)
    return 0
  }
  // A script (`npm run dev`) fixes the command line; the environment can still move the gateway.
  const fromEnv = values['gateway-port'] === undefined ? process.env.PYWATT_DEV_GATEWAY_PORT : undefined
  const gatewayGiven = values['gateway-port'] ?? fromEnv
  const gatewayText = gatewayGiven ?? '8080'
  const gatewayPort = Number(gatewayText)
  if (!/^\d+$/.test(gatewayText) || gatewayPort > 65535) {
    out.write(`${fromEnv === undefined ? '--gateway-port' : 'PYWATT_DEV_GATEWAY_PORT'} must be a port number (0 to 65535, 0 = any free port), not '${gatewayText}'\n`)
    return 2
  }
  const config = values.config ?? (positionals.length === 0 && existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined)
  if (config !== undefined) {
    if (positionals.length > 0) {
      out.write('give either --config or a module command, not both\n')
      return 2
    }
    return await runClusterCli(config, { raw: values.raw === true, ...(gatewayGiven === undefined ? {} : { gatewayPort }) }, out)
  }
  if (positionals.length === 0) {
    out.write(USAGE)
    return 2
  }
  const say = (text: string): void => { out.write(`[pywatt-dev] ${text}\n`) }
  const secrets: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) secrets[k] = v
  for (const file of values['env-file'] ?? []) Object.assign(secrets, parseEnv(readFileSync(file, 'utf8')))
  for (const text of values.secret ?? []) {
    const [k, v] = pair(text)
    secrets[k] = v
  }

  const via = values.via
  if (via !== undefined && via !== 'tcp' && via !== 'unix') {
    out.write(`--via must be tcp or unix, not '${via}'\n`)
    return 2
  }
  if (via === 'unix' && values['unix-channel'] === undefined) {
    out.write('--via unix needs --unix-channel <path>\n')
    return 2
  }
  const announceTimeout = Number(values['announce-timeout'])
  if (!/^\d+(\.\d+)?$/.test(values['announce-timeout'])) {
    out.write(`--announce-timeout must be a number of seconds (0 = never), not '${values['announce-timeout']}'\n`)
    return 2
  }
  const required = values['channel-required'] === true
  const dev = new DevOrchestrator({
    command: positionals[0],
    args: positionals.slice(1),
    moduleId: values['module-id'],
    listen: values.listen,
    secrets,
    heartbeatInterval: Number(values.heartbeat),
    ownProcessGroup: true,
    keepMessages: DEV_KEEP_MESSAGES,
    services: { databaseUrl: values['database-url'], cacheUrl: values['cache-url'], echo: values['no-service-echo'] !== true },
    ...(values['tcp-channel'] === true || via === 'tcp' ? { tcpChannel: { required } } : {}),
    ...(values['unix-channel'] === undefined ? {} : { ipcChannel: { required, path: values['unix-channel'] } })
  })
  dev.on('stderr', (line: string) => out.write((values.raw === true ? line : prettyLogLine(line)) + '\n'))
  dev.on('garbage', (line: string) => say(`module wrote a non-protocol line on stdout (${line.length} chars)`))
  dev.on('unknown-secret', (name: string) => say(`module asked for secret ${name}, which is not set: no answer sent`))
  dev.on('missed-ack', (n: number) => say(`${n} heartbeat(s) not acknowledged`))
  dev.on('announce', () => {
    say(endpointTable(dev.announcedListen ?? '', dev.endpoints ?? []))
    const links = observabilityLine(`http://127.0.0.1:${(gateway.address() as AddressInfo).port}`, dev.endpoints ?? [])
    if (links !== null) say(links)
  })

  const forward: IpcForward | undefined = via !== undefined
    ? async (req) => {
      const server = via === 'tcp' ? dev.channels.tcp : dev.channels.ipc
      if (server?.socket == null) throw new Error(`the module has not connected its ${via} channel`)
      const res = await server.request({ ...req, headers: req.headers })
      return { status_code: res.status_code, headers: res.headers, ...(res.body == null ? {} : { body: res.body }) }
    }
    : values.ipc === true ? async (req) => await dev.request(req) : undefined
  const gateway = createGateway(() => dev.announcedListen, forward)
  try {
    await listenOn(gateway, gatewayPort)
  } catch (err) {
    const { code, message } = err as NodeJS.ErrnoException
    const reason = code === 'EADDRINUSE' ? 'the port is already in use (another pywatt-dev?)' : message
    say(`the gateway cannot listen on 127.0.0.1:${gatewayPort}: ${reason}. Pick another port with --gateway-port <n> or PYWATT_DEV_GATEWAY_PORT (0 = any free port)`)
    return 2
  }
  const route = via === undefined ? (values.ipc === true ? ' (over stdio)' : '') : ` (over the ${via} channel)`
  say(`gateway on http://127.0.0.1:${(gateway.address() as AddressInfo).port} -> module${route}`)

  await dev.start()
  say(`started ${positionals.join(' ')} (module id ${dev.moduleId}, listen ${dev.listen})`)
  say(`serving the Database and Cache services on request (${values['no-service-echo'] === true ? 'results without the echo of the operation' : 'results echo the operation'})`)
  // A module that calls app.listen() instead of app.pywatt.listen() runs and
  // serves, but never announces: without this, nothing says why it gets no traffic.
  const announceWait = announceTimeout > 0
    ? setTimeout(() => {
      if (dev.announcedListen !== null || dev.exited !== null) return
      const gatewaySide = forward === undefined ? ' (the gateway answers 503 until then)' : ''
      say(`no announce from the module ${announceTimeout} s after it started: an orchestrator routes nothing to a module before it announces${gatewaySide}. ` +
        'A module that calls app.listen() never announces: call app.pywatt.listen() instead, which binds init.listen and announces')
    }, announceTimeout * 1000)
    : undefined
  for (const [name, server] of Object.entries(dev.channels)) {
    say(`offering the module the ${name} channel at ${server.address}${required ? ' (required)' : ''}`)
    server.on('connection', () => say(`module connected its ${name} channel (${server.connections === 1 ? 'first time' : `reconnect ${server.connections - 1}`})`))
    server.on('disconnect', () => say(`module's ${name} channel disconnected`))
    server.on('invalid', (err: Error) => say(`bad frame on the ${name} channel: ${err.message}`))
  }

  const stop = (): void => {
    say('stopping the module (shutdown)')
    dev.shutdown().catch(() => {})
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  const commands = createInterface({ input: process.stdin, terminal: false })
  commands.on('line', (line) => {
    const [cmd, arg = ''] = line.trim().split(/\s+/, 2)
    try {
      if (cmd === 'rotate') {
        const [k, v] = pair(arg)
        dev.rotate(k, v).then((ack) => say(`rotation ${ack.rotation_id}: ${ack.status}`), (err: Error) => say(err.message))
      } else if (cmd === 'push') {
        const [k, v] = pair(arg)
        dev.secrets.set(k, v)
        dev.send({ op: 'secret', name: k, value: v })
      } else if (cmd === 'heartbeat') {
        dev.heartbeat()
        for (const server of Object.values(dev.channels)) if (server.socket !== null) server.send({ op: 'heartbeat' })
      } else if (cmd === 'routes') {
        say(endpointTable(dev.announcedListen ?? '', dev.endpoints ?? []))
      } else if (cmd === 'shutdown') {
        stop()
      } else if (cmd !== '') {
        say(`unknown command '${cmd}' (rotate K=V, push K=V, heartbeat, routes, shutdown)`)
      }
    } catch (err) {
      say((err as Error).message)
    }
  })

  const exit = await dev.waitForExit()
  clearTimeout(announceWait)
  commands.close()
  gateway.close()
  say(`module exited with ${exit?.signal ?? `code ${String(exit?.code)}`}`)
  return exit?.code ?? 1
}
