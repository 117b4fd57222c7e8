import { once } from 'node:events'
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net'

/**
 * A TCP proxy in front of a real server, to stop "the server" mid-run without
 * touching the shared one: `cut()` resets every connection and refuses new
 * ones (what a crashed server looks like to a client), `restore()` lets them
 * through again on the same port.
 */
export class TcpProxy {
  readonly #target: { host: string, port: number }
  readonly #sockets = new Set<Socket>()
  #server: Server | null = null
  port = 0

  constructor (host: string, port: number) {
    this.#target = { host, port }
  }

  async start (port = 0): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.#target)
      for (const s of [client, upstream]) {
        this.#sockets.add(s)
        s.on('error', () => {})
        s.on('close', () => this.#sockets.delete(s))
      }
      client.pipe(upstream).pipe(client)
      client.on('close', () => upstream.destroy())
      upstream.on('close', () => client.destroy())
    })
    server.listen(port, '127.0.0.1')
    await once(server, 'listening')
    this.#server = server
    this.port = (server.address() as AddressInfo).port
  }

  /** Reset every connection and stop accepting. */
  async cut (): Promise<void> {
    const server = this.#server
    this.#server = null
    for (const s of this.#sockets) {
      // A socket already half-closed cannot be reset: it is only destroyed.
      if (s.readyState === 'open') s.resetAndDestroy()
      else s.destroy()
    }
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()))
  }

  /** Accept again, on the same port. */
  async restore (): Promise<void> {
    await this.start(this.port)
  }

  async close (): Promise<void> {
    await this.cut()
  }
}
