import { connect } from 'node:net'
import { networkInterfaces } from 'node:os'

/** Whether a TCP connection to host:port is accepted. */
export async function accepts (host: string, port: number): Promise<boolean> {
  return await new Promise<boolean>((resolve) => {
    const socket = connect({ host, port })
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => resolve(false))
  })
}

/** An IPv4 address of this machine that is not loopback, if it has one. */
export function externalIPv4 (): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address
  }
  return undefined
}
