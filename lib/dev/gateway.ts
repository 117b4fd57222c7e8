import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { pipeline } from 'node:stream'
import { parseListenAddress } from '../protocol/index.js'

/** Sends one request over stdio or a channel and resolves with the module's reply (`DevOrchestrator.request`). */
export type IpcForward = (req: { method: string, uri: string, headers: Record<string, string>, body?: Uint8Array }) =>
Promise<{ status_code: number, headers: Readonly<Record<string, string>>, body?: number[] | Uint8Array }>

/**
 * A local HTTP gateway for `pywatt-dev`: forwards every request to the address
 * the module announced (direct HTTP), as the orchestrator's proxy would, or,
 * given `ipc`, as an `http_request` over the module's stdin.
 */
export function createGateway (target: () => string | null, ipc?: IpcForward): Server {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const uri = req.url ?? '/'
    if (ipc !== undefined) {
      forwardOverIpc(ipc, req, res, uri)
      return
    }
    const listen = target()
    if (listen === null) {
      res.writeHead(503, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: 'the module has not announced yet' }))
      return
    }
    forwardHttp(listen, req, res, uri)
  })
}

/** Forward `req` to the address a module announced, as `uri`. */
export function forwardHttp (listen: string, req: IncomingMessage, res: ServerResponse, uri: string): void {
  const address = parseListenAddress(listen)
  const upstream = request({
    ...(address.kind === 'tcp' ? { host: address.host, port: address.port } : { socketPath: address.path }),
    method: req.method,
    path: uri,
    headers: req.headers
  }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers)
    // A module that drops the connection mid-response ends ours too, instead
    // of leaving the client waiting for the rest.
    pipeline(answer, res, () => {})
  })
  upstream.on('error', (err) => {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ error: `module unreachable: ${err.message}` }))
  })
  req.pipe(upstream)
}

/** Forward `req` as one `http_request` over stdio or a channel, as `uri`. */
export function forwardOverIpc (ipc: IpcForward, req: IncomingMessage, res: ServerResponse, uri: string): void {
  const chunks: Buffer[] = []
  req.on('data', (chunk: Buffer) => chunks.push(chunk))
  req.on('end', () => {
    const headers: Record<string, string> = {}
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value
    }
    const body = Buffer.concat(chunks)
    ipc({ method: req.method ?? 'GET', uri, headers, ...(body.length > 0 ? { body } : {}) }).then((reply) => {
      res.writeHead(reply.status_code, reply.headers)
      res.end(Buffer.from(reply.body ?? []))
    }, (err: Error) => {
      res.writeHead(502, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: `module unreachable: ${err.message}` }))
    })
  })
}
