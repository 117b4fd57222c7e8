import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { pipeline } from 'node:stream'
import { parseListenAddress } from '../protocol/index.js'

/**
 * A local HTTP gateway for `pywatt-dev`: forwards every request to the address
 * the module announced (direct HTTP), as the orchestrator's proxy would.
 */
export function createGateway (target: () => string | null): Server {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const listen = target()
    if (listen === null) {
      res.writeHead(503, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: 'the module has not announced yet' }))
      return
    }
    const address = parseListenAddress(listen)
    const upstream = request({
      ...(address.kind === 'tcp' ? { host: address.host, port: address.port } : { socketPath: address.path }),
      method: req.method,
      path: req.url,
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
  })
}
