import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CLI, cliEnv, http, runCli } from '../helpers/unit-cli.js'

const PEER = fileURLToPath(new URL('../../dist/test/fixtures/peer-module.js', import.meta.url))

t.test('pywatt-dev --config: two modules, console commands with module names, shutdown', async (t) => {
  const dir = t.testdir({
    'users.env': 'API_KEY=users-first-key\n',
    'pywatt.dev.json': JSON.stringify({
      gatewayPort: 0,
      heartbeat: 200,
      modules: [
        { name: 'users', command: [process.execPath, PEER], envFile: 'users.env', env: { PEER_PREFIX: '/users' }, channels: { tcp: true } },
        { name: 'orders', command: [process.execPath, PEER], env: { PEER_PREFIX: '/orders' }, channels: { tcp: true }, via: 'stdio' }
      ]
    })
  })
  const cli = runCli(t, ['--config', join(dir, 'pywatt.dev.json')], cliEnv({ FORCE_COLOR: '1' }))
  const [, port] = await cli.stdout.next(/\[pywatt-dev\] gateway on http:\/\/127\.0\.0\.1:(\d+) -> users, orders \(status page http:\/\/127\.0\.0\.1:\d+\/_pywatt\)\n/)
  const gw = `http://127.0.0.1:${port}`
  await cli.stdout.find(/\[pywatt-dev\] users: module announced /)
  await cli.stdout.find(/\[pywatt-dev\] orders: module announced /)
  t.same(JSON.parse((await http(`${gw}/users/hello`)).body), { module: 'users' })
  t.same(JSON.parse((await http(`${gw}/orders/hello`)).body), { module: 'orders' }, 'over stdio (via: stdio)')
  const esc = String.fromCharCode(27)
  t.ok(await cli.stdout.find(new RegExp(`${esc}\\[36musers {2}\\|${esc}\\[0m \\d\\d:\\d\\d:\\d\\d INFO {2}`)), 'users\' logs under its coloured prefix')
  t.ok(await cli.stdout.find(new RegExp(`${esc}\\[35morders \\|${esc}\\[0m \\d\\d:\\d\\d:\\d\\d INFO {2}`)), 'orders\' in another colour')

  cli.type('rotate users API_KEY=users-second-key')
  await cli.stdout.next(/\[pywatt-dev\] users: rotation [0-9a-f-]{36}: success\n/)
  cli.type('rotate API_KEY=x')
  await cli.stdout.next(/\[pywatt-dev\] rotate needs a module: rotate <module> K=V \(modules: users, orders\)\n/)
  cli.type('restart ghost')
  await cli.stdout.next(/\[pywatt-dev\] no module 'ghost' \(modules: users, orders\)\n/)
  cli.type('frobnicate')
  await cli.stdout.next(/\[pywatt-dev\] unknown command 'frobnicate' \(rotate \[module\] K=V, .*shutdown\)\n/)

  cli.type('restart users')
  await cli.stdout.next(/\[pywatt-dev\] users: restarting\n/)
  await cli.stdout.next(/\[pywatt-dev\] users: exited with code 0\n/)
  await cli.stdout.next(/\[pywatt-dev\] users: started .* \(pid \d+, listen 127\.0\.0\.1:\d+\)\n/)
  await cli.stdout.next(/\[pywatt-dev\] users: module announced /)
  t.same(JSON.parse((await http(`${gw}/users/hello`)).body), { module: 'users' }, 'served again after the restart')

  cli.type('stop orders')
  await cli.stdout.next(/\[pywatt-dev\] orders: stopping \(shutdown\)\n/)
  await cli.stdout.next(/\[pywatt-dev\] orders: exited with code 0\n/)
  const gone = await http(`${gw}/orders/hello`)
  t.equal(gone.status, 404)
  t.same(JSON.parse(gone.body), { error: 'no module announced a route for GET /orders/hello' })
  t.same(JSON.parse((await http(`${gw}/users/hello`)).body), { module: 'users' }, 'users keeps serving')
  cli.type('stop orders')
  await cli.stdout.next(/\[pywatt-dev\] module orders is not running\n/)

  cli.type('status')
  const [status] = await cli.stdout.next(/\[pywatt-dev\] 2 module\(s\), gateway .*\n(?: {2}.*\n){2}/)
  t.match(status, /\n {2}users: running pid \d+ up \d+ s, 6 endpoint\(s\), restarts 1, tcp up/)
  t.match(status, /\n {2}orders: stopped, 0 endpoint\(s\), restarts 0, tcp down, last exit code 0/)

  cli.type('start orders')
  await cli.stdout.next(/\[pywatt-dev\] orders: module announced /)
  t.same(JSON.parse((await http(`${gw}/orders/hello`)).body), { module: 'orders' })

  cli.type('shutdown')
  await cli.stdout.next(/\[pywatt-dev\] stopping every module \(shutdown\)\n/)
  await cli.stdout.next(/\[pywatt-dev\] all modules stopped\n/)
  t.same(await cli.exit, { code: 0, signal: null })
  t.notMatch(cli.stdout.text, /users-first-key|users-second-key/, 'no secret value printed')
})

t.test('pywatt-dev: a bad config file exits 2 naming the key; one module keeps today\'s syntax', async (t) => {
  const dir = t.testdir({
    'bad.json': JSON.stringify({ modules: [{ name: 'users', command: 'node x.js', via: 'carrier-pigeon' }] }),
    cwd: { 'pywatt.dev.json': JSON.stringify({ modules: [{ name: 'x', command: 'node x.js', gatewayPort: 1 }] }) },
    'one.json': JSON.stringify({ gatewayPort: 0, heartbeat: 0, modules: [{ name: 'solo', command: [process.execPath, PEER], env: { PEER_PREFIX: '/s' } }] })
  })
  const bad = runCli(t, ['--config', join(dir, 'bad.json')])
  t.same(await bad.exit, { code: 2, signal: null })
  t.match(bad.stdout.text, /^Invalid pywatt-dev config: .*bad\.json: modules\.0\.via: /)

  // No command and no --config: pywatt.dev.json in the working directory.
  const inCwd = join(dir, 'cwd')
  const child = spawn(process.execPath, [CLI], { cwd: inCwd, env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
  let text = ''
  child.stdout.setEncoding('utf8').on('data', (s: string) => { text += s })
  const [code] = await once(child, 'close') as [number]
  t.equal(code, 2)
  t.match(text, /^Invalid pywatt-dev config: .*pywatt\.dev\.json: modules\.0\.gatewayPort: Unexpected property/)

  const both = runCli(t, ['--config', join(dir, 'one.json'), '--', 'node', 'x.js'])
  t.same(await both.exit, { code: 2, signal: null })
  t.equal(both.stdout.text, 'give either --config or a module command, not both\n')

  const one = runCli(t, ['--config', join(dir, 'one.json')])
  const [, port] = await one.stdout.next(/gateway on http:\/\/127\.0\.0\.1:(\d+) -> solo /)
  await one.stdout.next(/\[pywatt-dev\] solo: module announced /)
  t.equal((await http(`http://127.0.0.1:${port}/unannounced`)).status, 404, 'one module gets every path (its own 404)')
  one.type('rotate K=v')
  await one.stdout.next(/\[pywatt-dev\] solo: rotation [0-9a-f-]{36}: success\n/)
  one.type('restart')
  await one.stdout.next(/\[pywatt-dev\] solo: module announced /)
  one.child.kill('SIGINT')
  await one.stdout.next(/\[pywatt-dev\] all modules stopped\n/)
  t.same(await one.exit, { code: 0, signal: null })
})

t.test('Ctrl-C in the terminal (SIGINT to the whole foreground process group) stops every module once, with shutdown: no crash, no restart', async (t) => {
  const dir = t.testdir({
    'pywatt.dev.json': JSON.stringify({
      gatewayPort: 0,
      heartbeat: 0,
      modules: [
        { name: 'first', command: [process.execPath, PEER], env: { PEER_PREFIX: '/first' } },
        { name: 'second', command: [process.execPath, PEER], env: { PEER_PREFIX: '/second' } }
      ]
    })
  })
  // pywatt-dev leads its own process group here, as a shell's foreground job does; the terminal's Ctrl-C signals that group.
  const child = spawn(process.execPath, [CLI, '--config', join(dir, 'pywatt.dev.json')], { env: cliEnv(), stdio: ['pipe', 'pipe', 'pipe'], detached: true })
  t.teardown(() => { if (child.exitCode === null) process.kill(-(child.pid as number), 'SIGKILL') })
  let text = ''
  child.stdout.setEncoding('utf8').on('data', (s: string) => { text += s })
  const closed = once(child, 'close')
  for (const end = Date.now() + 30_000; !(/first: module announced/.test(text) && /second: module announced/.test(text));) {
    if (Date.now() > end || child.exitCode !== null) throw new Error(`the modules did not announce:\n${text}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  process.kill(-(child.pid as number), 'SIGINT')
  const [code] = await closed as [number]
  t.equal(code, 0)
  t.match(text, /\[pywatt-dev\] stopping every module \(shutdown\)\n/)
  t.match(text, /\[pywatt-dev\] first: exited with code 0\n/)
  t.match(text, /\[pywatt-dev\] second: exited with code 0\n/)
  t.notMatch(text, /crashed \(exit|restarting in|not restarted/, 'the modules did not get the SIGINT themselves')
})

t.test('pywatt-dev killed outright: its modules, in their own process groups, still exit (their stdin closes); PYWATT_DEV_GATEWAY_PORT wins over the file', async (t) => {
  const blocker = createServer()
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
  t.after(() => blocker.close())
  const taken = (blocker.address() as AddressInfo).port
  const dir = t.testdir({
    'pywatt.dev.json': JSON.stringify({ gatewayPort: taken, heartbeat: 0, modules: [{ name: 'orphan', command: [process.execPath, PEER], env: { PEER_PREFIX: '/o' } }] })
  })
  const cli = runCli(t, ['--config', join(dir, 'pywatt.dev.json')], cliEnv({ PYWATT_DEV_GATEWAY_PORT: '0' }))
  const [, gatewayPort] = await cli.stdout.next(/gateway on http:\/\/127\.0\.0\.1:(\d+) -> orphan /)
  t.not(Number(gatewayPort), taken, 'the variable\'s port (any free one), not the file\'s (taken)')
  const [, pid] = await cli.stdout.next(/\[pywatt-dev\] orphan: started .* \(pid (\d+),/)
  await cli.stdout.next(/\[pywatt-dev\] orphan: module announced /)
  const alive = (): boolean => {
    try {
      process.kill(Number(pid), 0)
      return true
    } catch {
      return false
    }
  }
  t.ok(alive())
  t.teardown(() => { if (alive()) process.kill(Number(pid), 'SIGKILL') })
  cli.child.kill('SIGKILL')
  await cli.exit
  for (const end = Date.now() + 15_000; alive() && Date.now() < end;) await new Promise((resolve) => setTimeout(resolve, 50))
  t.notOk(alive(), 'the module exited by itself')
})
