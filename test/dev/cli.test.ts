import t, { type Test } from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { once } from 'node:events'
import { createServer, request, type IncomingMessage, type Server } from 'node:http'
import { createServer as createTcpServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { createGateway } from '../../lib/dev/gateway.js'
import { endpointTable, prettyLogLine } from '../../lib/dev/pretty.js'
import { freePort } from '../../lib/dev/free-port.js'
import { APP_LISTEN, EXAMPLE } from '../helpers/modules.js'
import { cliEnv, eventually, http, runCli } from '../helpers/unit-cli.js'

/**
 * A scripted module that shows what `pywatt-dev` sends it: every line after Init
 * is logged on stderr as JSON. It asks for a few secrets, writes one non-protocol
 * line, announces, never acks heartbeats, exits 0 on `shutdown`, 3 on `rotated`,
 * and kills itself when pushed a secret named DIE.
 */
const ECHO_MODULE = `
import { createInterface } from 'node:readline'
const out = (m) => process.stdout.write(JSON.stringify(m) + '\\n')
const log = (msg, extra) => process.stderr.write(JSON.stringify({ level: 30, time: Date.now(), pid: process.pid, hostname: 'h', msg, ...extra }) + '\\n')
let init = null
createInterface({ input: process.stdin }).on('line', (line) => {
  if (init === null) {
    init = JSON.parse(line)
    log('init', { module_id: init.module_id, listen: init.listen, standalone: process.env.PYWATT_STANDALONE })
    process.stdout.write('this is not protocol\\n')
    for (const name of ['NOT_SET_ANYWHERE', 'FROM_FLAG', 'FROM_FILE', 'FROM_ENV']) out({ op: 'get_secret', name })
    out({ op: 'announce', listen: init.listen, endpoints: [{ path: '/echo', methods: ['GET', 'POST'], auth: 'jwt' }, { path: '/a-much-longer-path', methods: ['DELETE'] }] })
    return
  }
  const m = JSON.parse(line)
  log('received', { message: m })
  if (m.op === 'shutdown') process.exit(0)
  if (m.op === 'rotated') process.exit(3)
  if (m.op === 'secret' && m.name === 'DIE') process.kill(process.pid, 'SIGKILL')
}).on('close', () => process.exit(0))
`

function echoFixture (t: Test) {
  const dir = t.testdir({
    'echo-module.mjs': ECHO_MODULE,
    'first.env': 'FROM_FILE=from-first-file\nFROM_FLAG=from-file-overridden\n',
    'second.env': '# comment\nFROM_FILE="from-second-file"\n'
  })
  return { module: join(dir, 'echo-module.mjs'), first: join(dir, 'first.env'), second: join(dir, 'second.env') }
}

/** The messages the echo module logged having received, in order (raw JSON log lines). */
function received (stdoutText: string): Array<Record<string, any>> {
  const found: Array<Record<string, any>> = []
  for (const line of stdoutText.split('\n')) {
    if (!line.startsWith('{')) continue
    const entry = JSON.parse(line) as { msg: string, message: Record<string, any> }
    if (entry.msg === 'received') found.push(entry.message)
  }
  return found
}

t.test('pywatt-dev runs the example module end to end', async (t) => {
  const dir = t.testdir({ 'secrets.env': 'API_KEY=first-key-from-file\nJWT_SECRET=jwt-secret-from-file-0123456789\n' })
  const cli = runCli(t, ['--env-file', join(dir, 'secrets.env'), '--gateway-port', '0', '--heartbeat', '100', '--', 'node', EXAMPLE])

  const [, port] = await cli.stdout.next(/\[pywatt-dev\] gateway on http:\/\/127\.0\.0\.1:(\d+) -> module\n/)
  const gateway = `http://127.0.0.1:${port}`
  const [, listen] = await cli.stdout.next(/\[pywatt-dev\] started node \S+server\.js \(module id dev-module, listen (127\.0\.0\.1:\d+)\)\n/)

  // the endpoint table after announce
  const [table] = await cli.stdout.next(/\[pywatt-dev\] module announced (\S+) with (\d+) endpoint\(s\):\n(?: {2}.*\n)+/)
  t.match(table, `module announced ${listen} with 9 endpoint(s):`)
  const rows = table.trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/))
  t.same(rows[0], ['METHODS', 'PATH', 'AUTH'])
  t.same(rows.slice(1).sort((a, b) => a[1].localeCompare(b[1])), [
    ['POST', '/api/echo'],
    ['GET,POST', '/api/items'],
    ['GET', '/api/items/:id'],
    ['GET', '/api/items/:id/stock'],
    ['GET', '/api/me', 'jwt'],
    ['GET', '/health'],
    ['GET', '/hello'],
    ['GET', '/metrics'],
    ['GET', '/ready']
  ])
  t.ok(await cli.stdout.find(new RegExp(`\\[pywatt-dev\\] probes and metrics: ${gateway}/health {2}${gateway}/metrics {2}${gateway}/ready\n`)), 'the probe and metrics URLs through the gateway')

  // The module's logs come from its stderr, which may lag behind the announce on stdout.
  t.ok(await cli.stdout.find(/^\d\d:\d\d:\d\d INFO {2}Server listening at http:\/\/127\.0\.0\.1:\d+$/m), 'the module\'s logs are pretty-printed')
  t.notMatch(cli.stdout.text, /^\{"level"/m, 'no raw JSON log line')

  // a request through the gateway
  const hello = await http(`${gateway}/hello`)
  t.equal(hello.status, 200)
  t.match(hello.headers['content-type'], /application\/json/)
  t.same(JSON.parse(hello.body), { hello: 'world', module: 'dev-module', keyLength: 'first-key-from-file'.length, rotations: 0 })
  const created = await http(`${gateway}/api/items`, { method: 'POST', body: JSON.stringify({ name: 'via gateway' }), headers: { 'content-type': 'application/json' } })
  t.equal(created.status, 201, 'a POST body goes through')
  t.same(JSON.parse(created.body), { id: 2, name: 'via gateway' })
  t.equal((await http(`${gateway}/api/items/99`)).status, 404, 'the status code goes through')

  // rotate
  cli.type('rotate API_KEY=another-value-123')
  await cli.stdout.next(/\[pywatt-dev\] rotation [0-9a-f-]{36}: success\n/)
  const rotated = await eventually(async () => JSON.parse((await http(`${gateway}/hello`)).body), (b) => b.keyLength === 'another-value-123'.length)
  t.equal(rotated.keyLength, 'another-value-123'.length, 'the new value is served')
  const withEvent = await eventually(async () => JSON.parse((await http(`${gateway}/hello`)).body), (b) => b.rotations === 1)
  t.equal(withEvent.rotations, 1, 'the module saw one rotation')

  // push: an unsolicited value replaces the cached one, without a rotation
  cli.type('push API_KEY=pushed-value-of-another-length')
  const pushed = await eventually(async () => JSON.parse((await http(`${gateway}/hello`)).body), (b) => b.keyLength === 'pushed-value-of-another-length'.length)
  t.equal(pushed.keyLength, 'pushed-value-of-another-length'.length)
  t.equal(pushed.rotations, 1, 'a push is not a rotation')

  // routes prints the table again
  cli.type('routes')
  const [again] = await cli.stdout.next(/\[pywatt-dev\] module announced (\S+) with (\d+) endpoint\(s\):\n(?: {2}.*\n)+/)
  t.equal(again, table, 'the same table')

  // an unknown command and bad arguments
  cli.type('frobnicate now')
  await cli.stdout.next(/\[pywatt-dev\] unknown command 'frobnicate' \(rotate K=V, push K=V, heartbeat, routes, shutdown\)\n/)
  cli.type('rotate API_KEY')
  await cli.stdout.next(/\[pywatt-dev\] expected K=V, got 'API_KEY'\n/)
  cli.type('rotate =no-key')
  await cli.stdout.next(/\[pywatt-dev\] expected K=V, got '=no-key'\n/)
  cli.type('push')
  await cli.stdout.next(/\[pywatt-dev\] expected K=V, got ''\n/)
  cli.type('')
  cli.type('   ')
  cli.type('heartbeat')
  t.equal(JSON.parse((await http(`${gateway}/hello`)).body).keyLength, 'pushed-value-of-another-length'.length, 'bad commands changed nothing')

  // the module acknowledges heartbeats: once it runs, no misses are reported any more
  const reportedBefore = cli.stdout.text.split('not acknowledged').length
  await new Promise((resolve) => setTimeout(resolve, 400))
  t.equal(cli.stdout.text.split('not acknowledged').length, reportedBefore, 'no missed heartbeat while the module runs')

  // shutdown
  cli.type('shutdown')
  await cli.stdout.next(/\[pywatt-dev\] stopping the module \(shutdown\)\n/)
  await cli.stdout.next(/INFO {2}shutdown requested by the orchestrator/)
  await cli.stdout.next(/\[pywatt-dev\] module exited with code 0\n/)
  const exit = await cli.exit
  t.same(exit, { code: 0, signal: null })
  t.notMatch(cli.stdout.text, /first-key-from-file|another-value-123/, 'no secret value printed')
  t.equal(cli.stderr.text, '', 'nothing on the CLI stderr')
})

t.test('options, secret sources, raw logs and what the module receives', async (t) => {
  const fx = echoFixture(t)
  const listen = `127.0.0.1:${await freePort()}`
  const cli = runCli(t, [
    '--env-file', fx.first, '--env-file', fx.second,
    '--secret', 'FROM_FLAG=from-the-flag', '--secret', 'EMPTY=',
    '--module-id', 'custom-module', '--listen', listen,
    '--gateway-port', '0', '--heartbeat', '0', '--raw',
    '--', process.execPath, fx.module
  ], cliEnv({ FROM_ENV: 'from-the-environment' }))

  await cli.stdout.next(new RegExp(`\\[pywatt-dev\\] started .*echo-module\\.mjs \\(module id custom-module, listen ${listen.replaceAll('.', '\\.')}\\)\\n`))
  // --raw: the module's JSON log line as is
  const [raw] = await cli.stdout.next(/^\{"level":30,.*"msg":"init".*\}$/m)
  const init = JSON.parse(raw)
  t.equal(init.module_id, 'custom-module')
  t.equal(init.listen, listen)
  t.equal(init.standalone, '0', 'the module is told it is not standalone')

  await cli.stdout.next(/\[pywatt-dev\] module wrote a non-protocol line on stdout \(20 chars\)\n/)
  await cli.stdout.next(/\[pywatt-dev\] module asked for secret NOT_SET_ANYWHERE, which is not set: no answer sent\n/)
  const [table] = await cli.stdout.next(/\[pywatt-dev\] module announced (\S+) with 2 endpoint\(s\):\n(?: {2}.*\n)+/)
  t.match(table, `module announced ${listen} with 2 endpoint(s)`)
  t.match(table, /\n {2}GET,POST {2}\/echo {16}jwt\n/)
  t.match(table, /\n {2}DELETE {4}\/a-much-longer-path {2}\n/)

  const secrets = await eventually(async () => received(cli.stdout.text), (r) => r.length >= 3, 5_000)
  t.same(secrets.slice(0, 3), [
    { op: 'secret', name: 'FROM_FLAG', value: 'from-the-flag' },
    { op: 'secret', name: 'FROM_FILE', value: 'from-second-file' },
    { op: 'secret', name: 'FROM_ENV', value: 'from-the-environment' }
  ], '--secret over --env-file, the last --env-file over the first, the environment too')

  // heartbeat sends exactly one heartbeat (none are automatic with --heartbeat 0)
  cli.type('heartbeat')
  await cli.stdout.next(/"msg":"received","message":\{"op":"heartbeat"\}/)
  cli.type('push NEW_KEY=a=b=c')
  await cli.stdout.next(/"msg":"received","message":\{"op":"secret","name":"NEW_KEY","value":"a=b=c"\}/)
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.same(received(cli.stdout.text).slice(3), [
    { op: 'heartbeat' },
    { op: 'secret', name: 'NEW_KEY', value: 'a=b=c' }
  ], 'one heartbeat, one pushed secret, nothing else')
  t.notMatch(cli.stdout.text, /not acknowledged/, 'no heartbeat timer')

  // a rotation the module does not survive
  cli.type('rotate FROM_FLAG=rotated-value')
  await cli.stdout.next(/"message":\{"op":"rotated","keys":\["FROM_FLAG"\],"rotation_id":"[0-9a-f-]{36}"\}/)
  // the two lines come in either order
  await cli.stdout.find(/\[pywatt-dev\] the module exited before the awaited message\n/)
  await cli.stdout.find(/\[pywatt-dev\] module exited with code 3\n/)
  t.same(await cli.exit, { code: 3, signal: null }, 'the module exit code is the CLI exit code')
})

t.test('missed heartbeats are reported; SIGTERM stops the module with shutdown', async (t) => {
  const fx = echoFixture(t)
  const cli = runCli(t, ['--gateway-port', '0', '--heartbeat', '40', '--', process.execPath, fx.module])
  await cli.stdout.next(/\[pywatt-dev\] started /)
  // pretty-printed: extra fields as JSON, pid/hostname/time/level dropped
  const [pretty] = await cli.stdout.next(/^\d\d:\d\d:\d\d INFO {2}init \{.*\}$/m)
  t.notMatch(pretty, /"pid"|"hostname"|"level"|"time"/)
  t.match(pretty, /"module_id":"dev-module"/, 'the default module id')
  // the module never acks: the count of missed heartbeats only grows
  const [, first] = await cli.stdout.next(/\[pywatt-dev\] (\d+) heartbeat\(s\) not acknowledged\n/)
  const [, second] = await cli.stdout.next(/\[pywatt-dev\] (\d+) heartbeat\(s\) not acknowledged\n/)
  t.ok(Number(first) >= 1)
  t.equal(Number(second), Number(first) + 1)

  cli.child.kill('SIGTERM')
  await cli.stdout.next(/\[pywatt-dev\] stopping the module \(shutdown\)\n/)
  await cli.stdout.next(/received \{"message":\{"op":"shutdown"\}\}/)
  await cli.stdout.next(/\[pywatt-dev\] module exited with code 0\n/)
  t.same(await cli.exit, { code: 0, signal: null })
})

t.test('SIGINT is Ctrl-C: the same shutdown', async (t) => {
  const fx = echoFixture(t)
  const cli = runCli(t, ['--gateway-port', '0', '--heartbeat', '0', '--', process.execPath, fx.module])
  await cli.stdout.next(/\[pywatt-dev\] module announced /)
  cli.child.kill('SIGINT')
  await cli.stdout.next(/\[pywatt-dev\] stopping the module \(shutdown\)\n/)
  await cli.stdout.next(/\[pywatt-dev\] module exited with code 0\n/)
  t.same(await cli.exit, { code: 0, signal: null })
})

t.test('a module killed by a signal: reported, and the CLI exits 1', async (t) => {
  const fx = echoFixture(t)
  const cli = runCli(t, ['--gateway-port', '0', '--heartbeat', '0', '--', process.execPath, fx.module])
  await cli.stdout.next(/\[pywatt-dev\] module announced /)
  cli.type('push DIE=now')
  await cli.stdout.next(/\[pywatt-dev\] module exited with SIGKILL\n/)
  t.same(await cli.exit, { code: 1, signal: null })
})

/** A module that never answers Init and exits 0 on a shutdown line. */
const SILENT_MODULE = "require('node:readline').createInterface({ input: process.stdin }).on('line', (l) => { if (l.includes('shutdown')) process.exit(0) })"

t.test('before the module announced: the gateway answers 503, routes shows no endpoint', async (t) => {
  const cli = runCli(t, ['--gateway-port', '0', '--heartbeat', '0', '--', process.execPath, '-e', SILENT_MODULE])
  const [, port] = await cli.stdout.next(/gateway on http:\/\/127\.0\.0\.1:(\d+) -> module\n/)
  await cli.stdout.next(/\[pywatt-dev\] started /)
  const answer = await http(`http://127.0.0.1:${port}/hello`)
  t.equal(answer.status, 503)
  t.match(answer.headers['content-type'], 'application/json')
  t.same(JSON.parse(answer.body), { error: 'the module has not announced yet' })
  cli.type('routes')
  await cli.stdout.next(/\[pywatt-dev\] module announced {2}with 0 endpoint\(s\):\n {2}METHODS {2}PATH {2}AUTH\n/)
  cli.type('shutdown')
  await cli.stdout.next(/\[pywatt-dev\] module exited with code 0\n/)
  t.same(await cli.exit, { code: 0, signal: null })
})

t.test('--help, -h and no arguments', async (t) => {
  for (const flag of ['--help', '-h']) {
    const cli = runCli(t, [flag])
    const exit = await cli.exit
    t.same(exit, { code: 0, signal: null }, `${flag} exits 0`)
    t.match(cli.stdout.text, /^Usage: pywatt-dev \[options\] -- <module command> \[args\.\.\.\]\n/)
    for (const word of ['--env-file', '--secret', '--module-id', '--listen', '--gateway-port', '--announce-timeout', '--heartbeat', '--raw', 'rotate K=V', 'push K=V', 'heartbeat', 'routes', 'shutdown']) {
      t.match(cli.stdout.text, word, `${flag} documents ${word}`)
    }
  }
  const help = runCli(t, ['--help', '--', 'node', 'x.js'])
  t.same(await help.exit, { code: 0, signal: null }, '--help wins over a command')
  t.match(help.stdout.text, /^Usage: /)

  const none = runCli(t, [])
  t.same(await none.exit, { code: 2, signal: null }, 'no arguments exits 2')
  t.match(none.stdout.text, /^Usage: pywatt-dev /)
  const onlyOptions = runCli(t, ['--gateway-port', '0'])
  t.same(await onlyOptions.exit, { code: 2, signal: null }, 'options without a command exit 2')
})

t.test('a bad --secret is refused before anything starts', async (t) => {
  const cli = runCli(t, ['--secret', 'NO_EQUALS_SIGN', '--gateway-port', '0', '--', process.execPath, '-e', ''])
  const exit = await cli.exit
  t.not(exit.code, 0)
  t.match(cli.stderr.text, /expected K=V, got 'NO_EQUALS_SIGN'/)
  t.notMatch(cli.stdout.text, /gateway on/)
})

t.test('a module that calls app.listen(): "no announce" after --announce-timeout, naming app.pywatt.listen(), once', async (t) => {
  const cli = runCli(t, ['--gateway-port', '0', '--heartbeat', '0', '--announce-timeout', '0.5', '--', process.execPath, APP_LISTEN])
  const [, port] = await cli.stdout.next(/\[pywatt-dev\] gateway on http:\/\/127\.0\.0\.1:(\d+) -> module\n/)
  await cli.stdout.next(/\[pywatt-dev\] started /)
  const [line] = await cli.stdout.next(/\[pywatt-dev\] no announce from the module 0\.5 s after it started: .*\n/)
  t.match(line, '(the gateway answers 503 until then)')
  t.match(line, 'A module that calls app.listen() never announces: call app.pywatt.listen() instead')
  t.ok(await cli.stdout.find(/WARN {2}app\.listen\(\) was called instead of app\.pywatt\.listen\(\)/), 'the module warns too')
  t.equal((await http(`http://127.0.0.1:${port}/hello`)).status, 503, 'the gateway has nowhere to go')
  await new Promise((resolve) => setTimeout(resolve, 700))
  t.equal(cli.stdout.text.split('no announce from the module').length, 2, 'said once')
  cli.type('shutdown')
  t.same(await cli.exit, { code: 0, signal: null })
})

t.test('a module that announces in time: no "no announce" line', async (t) => {
  const fx = echoFixture(t)
  const started = Date.now()
  // Long enough for a loaded machine to start the module before it runs out.
  const cli = runCli(t, ['--gateway-port', '0', '--heartbeat', '0', '--announce-timeout', '2', '--', process.execPath, fx.module])
  await cli.stdout.next(/\[pywatt-dev\] module announced /)
  await new Promise((resolve) => setTimeout(resolve, started + 2_500 - Date.now()))
  t.notMatch(cli.stdout.text, /no announce/)
  cli.type('shutdown')
  t.same(await cli.exit, { code: 0, signal: null })
})

t.test('a gateway port in use: what is wrong and how to pick another, exit 2, the module not started', async (t) => {
  const blocker = createTcpServer()
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
  t.after(() => blocker.close())
  const port = (blocker.address() as AddressInfo).port
  const cli = runCli(t, ['--gateway-port', String(port), '--', process.execPath, '-e', ''])
  t.same(await cli.exit, { code: 2, signal: null })
  t.equal(cli.stdout.text, `[pywatt-dev] the gateway cannot listen on 127.0.0.1:${port}: the port is already in use (another pywatt-dev?). Pick another port with --gateway-port <n> or PYWATT_DEV_GATEWAY_PORT (0 = any free port)\n`)
  t.equal(cli.stderr.text, '', 'no unhandled error event')
})

t.test('PYWATT_DEV_GATEWAY_PORT moves the gateway when the command line does not (npm run dev); --gateway-port wins; a bad one is named', async (t) => {
  const fx = echoFixture(t)
  const blocker = createTcpServer()
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
  t.after(() => blocker.close())
  const taken = String((blocker.address() as AddressInfo).port)
  const moved = runCli(t, ['--heartbeat', '0', '--', process.execPath, fx.module], cliEnv({ PYWATT_DEV_GATEWAY_PORT: '0' }))
  const [, port] = await moved.stdout.next(/\[pywatt-dev\] gateway on http:\/\/127\.0\.0\.1:(\d+) -> module\n/)
  t.not(port, '8080', 'any free port, as 0 asks')
  moved.child.kill('SIGTERM')
  t.same(await moved.exit, { code: 0, signal: null })
  const flagWins = runCli(t, ['--gateway-port', '0', '--heartbeat', '0', '--', process.execPath, fx.module], cliEnv({ PYWATT_DEV_GATEWAY_PORT: taken }))
  const [, other] = await flagWins.stdout.next(/\[pywatt-dev\] gateway on http:\/\/127\.0\.0\.1:(\d+) -> module\n/)
  t.not(other, taken, 'the flag, not the variable (whose port is taken)')
  flagWins.child.kill('SIGTERM')
  t.same(await flagWins.exit, { code: 0, signal: null })
  const bad = runCli(t, ['--', process.execPath, '-e', ''], cliEnv({ PYWATT_DEV_GATEWAY_PORT: 'eighty' }))
  t.same(await bad.exit, { code: 2, signal: null })
  t.equal(bad.stdout.text, "PYWATT_DEV_GATEWAY_PORT must be a port number (0 to 65535, 0 = any free port), not 'eighty'\n")
})

t.test('a bad --gateway-port or --announce-timeout is a usage error', async (t) => {
  for (const [flag, value] of [['--gateway-port', 'eighty'], ['--gateway-port', '65536'], ['--gateway-port', '-1'], ['--announce-timeout', 'soon'], ['--announce-timeout', '-1'], ['--announce-timeout', '']]) {
    const cli = runCli(t, [`${flag}=${value}`, '--', process.execPath, '-e', ''])
    t.same(await cli.exit, { code: 2, signal: null }, `${flag} '${value}'`)
    t.match(cli.stdout.text, new RegExp(`^${flag} must be .*, not '${value}'\\n$`))
  }
})

t.test('prettyLogLine', async (t) => {
  const time = Date.UTC(2024, 0, 2, 3, 4, 5, 678)
  t.equal(prettyLogLine(JSON.stringify({ level: 30, time, pid: 1, hostname: 'h', msg: 'hello' })), '03:04:05 INFO  hello')
  t.equal(
    prettyLogLine(JSON.stringify({ level: 40, time, pid: 1, hostname: 'h', msg: 'careful', reqId: 'r-1', nested: { a: [1] } })),
    '03:04:05 WARN  careful {"reqId":"r-1","nested":{"a":[1]}}'
  )
  const levels: Array<[number, string]> = [[10, 'TRACE'], [20, 'DEBUG'], [30, 'INFO '], [40, 'WARN '], [50, 'ERROR'], [60, 'FATAL']]
  for (const [level, name] of levels) {
    t.equal(prettyLogLine(JSON.stringify({ level, time, msg: 'm' })), `03:04:05 ${name} m`, `level ${level}`)
  }
  t.equal(prettyLogLine(JSON.stringify({ level: 35, msg: 'custom' })), '--:--:-- 35    custom', 'an unknown numeric level; no time')
  t.equal(prettyLogLine(JSON.stringify({ level: 'notice', msg: 'x' })), '--:--:-- notice x', 'a level name longer than 5')
  t.equal(prettyLogLine(JSON.stringify({ time: '2024-01-01', other: 1 })), '--:--:--        {"other":1}', 'no level, no msg, a non-numeric time')
  t.equal(prettyLogLine('{}'), '--:--:--       ')

  for (const line of ['plain text from the module', '', '{"broken": ', '[1,2,3]', '[{"level":30,"msg":"in an array"}]', '"a json string"', '42', 'null', 'true']) {
    t.equal(prettyLogLine(line), line, `unchanged: ${JSON.stringify(line)}`)
  }
})

t.test('endpointTable', async (t) => {
  const table = endpointTable('127.0.0.1:4102', [
    { path: '/status', methods: ['GET'] },
    { path: '/api/items', methods: ['GET', 'POST', 'DELETE'], auth: 'jwt' },
    { path: '/x', methods: [], auth: '' }
  ])
  const lines = table.split('\n')
  t.equal(lines[0], 'module announced 127.0.0.1:4102 with 3 endpoint(s):')
  t.equal(lines.length, 5)
  t.same(lines.slice(1).map((l) => l.trimEnd()), [
    '  METHODS          PATH        AUTH',
    '  GET              /status',
    '  GET,POST,DELETE  /api/items  jwt',
    '                   /x'
  ])
  const pathColumn = lines[1].indexOf('PATH')
  const authColumn = lines[1].indexOf('AUTH')
  t.equal(lines[2].indexOf('/status'), pathColumn, 'paths aligned')
  t.equal(lines[3].indexOf('/api/items'), pathColumn)
  t.equal(lines[3].indexOf('jwt'), authColumn, 'auth aligned')

  const empty = endpointTable('/tmp/m.sock', [])
  t.equal(empty, 'module announced /tmp/m.sock with 0 endpoint(s):\n  METHODS  PATH  AUTH', 'minimum widths')
  const narrow = endpointTable('a:1', [{ path: '/', methods: ['GET'] }]).split('\n')
  t.equal(narrow[2].trimEnd(), '  GET      /', 'narrow rows use the header widths')
})

t.test('createGateway', async (t) => {
  let target: string | null = null
  const gateway = createGateway(() => target)
  await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve))
  t.after(() => { gateway.closeAllConnections(); gateway.close() })
  const url = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`

  t.test('503 before the module announced', async (t) => {
    const answer = await http(`${url}/anything`)
    t.equal(answer.status, 503)
    t.match(answer.headers['content-type'], 'application/json')
    t.same(JSON.parse(answer.body), { error: 'the module has not announced yet' })
  })

  t.test('502 when the announced address is unreachable', async (t) => {
    target = `127.0.0.1:${await freePort()}`
    const answer = await http(`${url}/hello`)
    t.equal(answer.status, 502)
    t.match(answer.headers['content-type'], 'application/json')
    t.match(JSON.parse(answer.body), { error: /^module unreachable: .*ECONNREFUSED/ })

    const dir = mkdtempSync(join(tmpdir(), 'pywatt-gw-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    target = join(dir, 'missing.sock')
    const unix = await http(`${url}/hello`)
    t.equal(unix.status, 502, 'a missing unix socket too')
    t.match(JSON.parse(unix.body), { error: /^module unreachable: .*ENOENT/ })
  })

  const seen: Array<{ method?: string, url?: string, headers: IncomingMessage['headers'], body: string }> = []
  const upstream = (): Server => createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (s: string) => { body += s })
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body })
      res.writeHead(req.url === '/missing' ? 404 : 201, { 'content-type': 'text/plain', 'x-upstream': 'yes' })
      res.end(`echo ${req.method} ${req.url} ${body}`)
    })
  })

  t.test('forwards method, path, headers and body to a TCP module', async (t) => {
    const module = upstream()
    await new Promise<void>((resolve) => module.listen(0, '127.0.0.1', resolve))
    t.after(() => { module.closeAllConnections(); module.close() })
    target = `127.0.0.1:${(module.address() as AddressInfo).port}`
    const answer = await http(`${url}/api/items?x=1&y=2`, { method: 'POST', body: 'payload', headers: { 'x-custom': 'abc', 'content-type': 'text/plain' } })
    t.equal(answer.status, 201)
    t.equal(answer.headers['x-upstream'], 'yes', 'response headers come back')
    t.equal(answer.body, 'echo POST /api/items?x=1&y=2 payload')
    const last = seen.at(-1)
    t.equal(last?.method, 'POST')
    t.equal(last?.url, '/api/items?x=1&y=2')
    t.equal(last?.headers['x-custom'], 'abc', 'request headers go through')
    t.equal(last?.body, 'payload')
    const missing = await http(`${url}/missing`)
    t.equal(missing.status, 404, 'the module status is kept')
  })

  t.test('forwards to a module listening on a unix socket', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'pywatt-gw-'))
    const path = join(dir, 'module.sock')
    const module = upstream()
    await new Promise<void>((resolve) => module.listen(path, resolve))
    t.after(() => {
      module.closeAllConnections()
      module.close()
      rmSync(dir, { recursive: true, force: true })
    })
    target = path
    const answer = await http(`${url}/over/unix`, { method: 'PUT', body: 'u' })
    t.equal(answer.status, 201)
    t.equal(answer.body, 'echo PUT /over/unix u')
  })

  t.test('a module that resets the connection after answering: the error ends the response', async (t) => {
    const module = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.write('partial')
      setTimeout(() => req.socket.resetAndDestroy(), 30)
    })
    await new Promise<void>((resolve) => module.listen(0, '127.0.0.1', resolve))
    t.after(() => { module.closeAllConnections(); module.close() })
    target = `127.0.0.1:${(module.address() as AddressInfo).port}`
    const client = request(`${url}/upload`, { method: 'POST', agent: false })
    t.after(() => client.destroy())
    client.on('error', () => {})
    // the upload stays open: the module resets while it is still being sent
    client.write('first chunk ')
    const [res] = await once(client, 'response') as [IncomingMessage]
    let body = ''
    res.setEncoding('utf8')
    res.on('data', (s: string) => { body += s })
    await once(res, 'end')
    t.equal(res.statusCode, 200, 'the module status was already sent')
    t.match(body, /^partial\{"error":"module unreachable: .*ECONNRESET"\}$/, 'the error is appended and the response ends')
  })
})

t.test('--tcp-channel / --unix-channel / --via: the module connects both channels and the gateway forwards over one', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-cli-'))
  const path = join(dir, 'dev.sock')
  const cli = runCli(t, ['--secret', 'API_KEY=cli-key-1', '--secret', 'JWT_SECRET=cli-jwt-secret-0123456789abcdef', '--gateway-port', '0', '--heartbeat', '0',
    '--tcp-channel', '--unix-channel', path, '--via', 'unix', '--', 'node', EXAMPLE])
  const [, port] = await cli.stdout.next(/\[pywatt-dev\] gateway on http:\/\/127\.0\.0\.1:(\d+) -> module \(over the unix channel\)\n/)
  await cli.stdout.next(/\[pywatt-dev\] offering the module the tcp channel at 127\.0\.0\.1:\d+\n/)
  await cli.stdout.next(new RegExp(`\\[pywatt-dev\\] offering the module the ipc channel at ${path.replaceAll('.', '\\.')}\\n`))
  await cli.stdout.next(/module connected its (tcp|ipc) channel \(first time\)/)
  await cli.stdout.next(/module connected its (tcp|ipc) channel \(first time\)/)
  const res = await eventually(async () => await http(`http://127.0.0.1:${port}/hello`), (r) => r.status === 200)
  t.match(JSON.parse(res.body), { hello: 'world', keyLength: 9 })
  cli.type('heartbeat')
  cli.type('shutdown')
  t.same(await cli.exit, { code: 0, signal: null })
})

t.test('--via with a bad value, or unix without a path, is a usage error', async (t) => {
  for (const args of [['--via', 'carrier-pigeon'], ['--via', 'unix']]) {
    const cli = runCli(t, [...args, '--', 'node', EXAMPLE])
    t.same(await cli.exit, { code: 2, signal: null })
    t.match(cli.stdout.text, /--via must be tcp or unix|--via unix needs --unix-channel/)
  }
})
