import { test } from 'tap'
import { checkUnixPath, channelSettings, channelSpecs, DEFAULT_CHANNEL_SETTINGS, UNIX_PATH_MAX } from '../../lib/channels/config.js'
import type { InitBlob } from '../../lib/protocol/index.js'

const init = (extra: Partial<InitBlob> = {}): InitBlob => ({
  orchestrator_api: 'http://127.0.0.1:9900',
  module_id: 'm',
  env: {},
  listen: '127.0.0.1:4000',
  security_level: 'None',
  ...extra
})

test('a Unix socket path over the platform limit is refused with the limit named', async (t) => {
  const path = '/tmp/' + 'p'.repeat(115)
  t.equal(Buffer.byteLength(path), 120)
  t.throws(() => checkUnixPath(path, 'linux'), { code: 'FST_PYWATT_CHANNEL_CONFIG', message: /120 bytes long; the limit on linux is 107 bytes/ })
  t.throws(() => checkUnixPath('/tmp/' + 'p'.repeat(100), 'darwin'), { message: /limit on darwin is 103 bytes/ })
  t.doesNotThrow(() => checkUnixPath('/tmp/' + 'p'.repeat(102), 'linux'), '107 bytes is allowed')
  t.throws(() => checkUnixPath('/tmp/' + 'é'.repeat(52), 'linux'), { message: /109 bytes/ }, 'bytes are counted, not characters')
  t.throws(() => checkUnixPath(''), { message: /socket_path is empty/ })
  t.doesNotThrow(() => checkUnixPath('/tmp/' + 'p'.repeat(100), 'aix'), 'unknown platforms get the Linux limit')
  t.equal(UNIX_PATH_MAX.linux, 107)
})

test('channel specs follow the Init blob and the option', async (t) => {
  const both = init({
    tcp_channel: { address: '[::1]:9100', tls_enabled: true, required: true },
    ipc_channel: { socket_path: '/tmp/pw.sock', required: false }
  })
  t.same(channelSpecs(both, undefined), {
    specs: [
      { name: 'tcp', required: true, target: { kind: 'tcp', host: '::1', port: 9100, tls: true } },
      { name: 'ipc', required: false, target: { kind: 'unix', path: '/tmp/pw.sock' } }
    ],
    problems: []
  })
  t.same(channelSpecs(both, false).specs, [], 'channels: false ignores them')
  t.same(channelSpecs(both, { tcp: false }).specs.map((s) => s.name), ['ipc'])
  t.same(channelSpecs(both, { ipc: false }).specs.map((s) => s.name), ['tcp'])
  t.same(channelSpecs(init(), {}).specs, [], 'no channels offered')
  const long = channelSpecs(init({ ipc_channel: { socket_path: '/tmp/' + 'x'.repeat(120), required: true } }), undefined)
  t.same(long.specs, [])
  t.equal(long.problems.length, 1)
  t.equal(long.problems[0]?.required, true)
  t.match(long.problems[0]?.error.message, /the limit on/)
})

test('settings: defaults, and overrides merged per group', async (t) => {
  t.same(channelSettings(), DEFAULT_CHANNEL_SETTINGS)
  t.same(DEFAULT_CHANNEL_SETTINGS.reconnect, { initialDelay: 100, maxDelay: 30_000, maxAttempts: 20 })
  const s = channelSettings({ reconnect: { maxAttempts: 2 }, breaker: { threshold: 1 }, identify: true, maxFrameBytes: 10 })
  t.same(s.reconnect, { initialDelay: 100, maxDelay: 30_000, maxAttempts: 2 })
  t.same(s.breaker, { threshold: 1, halfOpenAfter: 30_000 })
  t.equal(s.identify, true)
  t.equal(s.maxFrameBytes, 10)
})
