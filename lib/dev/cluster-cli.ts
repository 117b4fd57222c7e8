import { createInterface } from 'node:readline'
import { DevCluster } from './cluster.js'
import { loadDevConfig } from './config.js'
import { runCommand } from './console.js'
import { useColour } from './pretty.js'

/** `pywatt-dev --config <file>`: run the modules of a config file until `shutdown`, Ctrl-C or SIGTERM; resolves with the exit code. */
export async function runClusterCli (file: string, opts: { raw: boolean, gatewayPort?: number }, out: NodeJS.WritableStream): Promise<number> {
  let config
  try {
    config = await loadDevConfig(file)
  } catch (err) {
    out.write(`${(err as Error).message}\n`)
    return 2
  }
  const cluster = new DevCluster(config, {
    out,
    raw: opts.raw,
    colour: useColour(out),
    ...(opts.gatewayPort === undefined ? {} : { gatewayPort: opts.gatewayPort })
  })
  try {
    await cluster.listen()
  } catch (err) {
    const { code, message } = err as NodeJS.ErrnoException
    const port = opts.gatewayPort ?? config.gatewayPort
    const reason = code === 'EADDRINUSE' ? 'the port is already in use (another pywatt-dev?)' : message
    cluster.say(`the gateway cannot listen on 127.0.0.1:${port}: ${reason}. Pick another port with gatewayPort in the config, --gateway-port <n> or PYWATT_DEV_GATEWAY_PORT (0 = any free port)`)
    return 2
  }
  cluster.say(`gateway on ${cluster.url} -> ${[...cluster.hosts.keys()].join(', ')} (status page ${cluster.url}/_pywatt)`)
  let stop = (): void => {}
  const stopped = new Promise<void>((resolve) => { stop = resolve })
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  const commands = createInterface({ input: process.stdin, terminal: false })
  // One command at a time: a restart finishes before the next line is read.
  let queue = Promise.resolve()
  commands.on('line', (line) => {
    queue = queue.then(async () => { if (await runCommand(cluster, line)) stop() })
  })
  await cluster.start()
  await stopped
  process.off('SIGINT', stop)
  process.off('SIGTERM', stop)
  commands.close()
  cluster.say('stopping every module (shutdown)')
  await cluster.shutdown()
  cluster.say('all modules stopped')
  return 0
}
