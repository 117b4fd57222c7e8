import t from 'tap'
import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { alive } from '../helpers/process.js'
import { HOSTILE } from '../helpers/modules.js'

const MIDDLE = fileURLToPath(new URL('../../dist/test/fixtures/middle-orchestrator.js', import.meta.url))

async function portFree (host: string, port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, host, () => server.close(() => resolve(true)))
  })
}

t.test('T8 the orchestrator is SIGKILLed with requests in flight: the module notices and exits, freeing its port', async (t) => {
  const middle = spawn(process.execPath, [MIDDLE, HOSTILE], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.after(() => middle.kill('SIGKILL'))
  const line = await new Promise<string>((resolve, reject) => {
    let out = ''
    middle.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk
      if (out.includes('\n')) resolve(out.trim())
    })
    middle.once('exit', () => reject(new Error('the middle process exited early')))
  })
  const [pidText, listen] = line.split(' ')
  const pid = Number(pidText)
  t.after(() => { try { process.kill(pid, 'SIGKILL') } catch {} })
  t.ok(alive(pid), 'the module runs')
  const [host, port] = [listen.slice(0, listen.lastIndexOf(':')), Number(listen.slice(listen.lastIndexOf(':') + 1))]
  const inflight = fetch(`http://${listen}/slow?ms=300`).then((r) => r.status, () => 0)
  await new Promise((resolve) => setTimeout(resolve, 50))
  middle.kill('SIGKILL')
  const killedAt = Date.now()
  while (alive(pid) && Date.now() - killedAt < 10_000) await new Promise((resolve) => setTimeout(resolve, 20))
  t.notOk(alive(pid), `the module is gone ${Date.now() - killedAt} ms after its orchestrator died`)
  t.equal(await inflight, 200, 'the in-flight request was still answered before the module went')
  t.ok(await portFree(host, port), 'its port is free again')
})
