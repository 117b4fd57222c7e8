import t from 'tap'
import { formatSocketAddress, isSocketAddress, parseListenAddress, parseSocketAddress } from '../../lib/protocol/listen-address.js'

// Rust's rule (docs/protocol.md §2.4): a string that parses as a SocketAddr is Tcp,
// every other string is a Unix path.
const TCP: Array<[string, string, number]> = [
  ['127.0.0.1:4102', '127.0.0.1', 4102],
  ['0.0.0.0:0', '0.0.0.0', 0],
  ['255.255.255.255:65535', '255.255.255.255', 65535],
  ['10.0.0.1:04102', '10.0.0.1', 4102], // leading zeros are fine in the port
  ['[::1]:4102', '::1', 4102],
  ['[::]:80', '::', 80],
  ['[2001:db8::1]:443', '2001:db8::1', 443],
  ['[::ffff:1.2.3.4]:80', '::ffff:1.2.3.4', 80],
  ['[fe80::1%2]:80', 'fe80::1%2', 80] // numeric scope id
]

const UNIX = [
  'localhost:4102', // host names are not socket addresses
  '/tmp/wattson/my-module.sock',
  'relative.sock',
  '',
  '127.0.0.1', // no port
  '127.0.0.1:', // empty port
  '127.0.0.1:65536', // port out of u16 range
  '127.0.0.1:99999999999999999999',
  '127.0.0.1:-1',
  '127.0.0.1:+80',
  '127.0.0.01:4102', // octal-looking octet
  '256.0.0.1:80',
  '1.2.3:80',
  '1.2.3.4.5:80',
  ' 127.0.0.1:4102', // leading garbage
  '127.0.0.1:4102 ',
  '::1:4102', // IPv6 must be bracketed
  '[::1]',
  '[::1]:',
  '[1.2.3.4]:80',
  '[fe80::1%eth0]:80', // interface names are not numeric scope ids
  '[fe80::1%4294967296]:80',
  '[:::1]:80',
  '[::1]:65536'
]

t.test('TCP addresses', async (t) => {
  for (const [text, host, port] of TCP) {
    t.same(parseListenAddress(text), { kind: 'tcp', host, port, text }, text)
    t.ok(isSocketAddress(text), `${text} is a SocketAddr`)
  }
})

t.test('everything else is a Unix path', async (t) => {
  for (const text of UNIX) {
    t.same(parseListenAddress(text), { kind: 'unix', path: text, text }, JSON.stringify(text))
    t.notOk(isSocketAddress(text), `${JSON.stringify(text)} is not a SocketAddr`)
    t.equal(parseSocketAddress(text), null)
  }
})

t.test('formatSocketAddress brackets IPv6 hosts', async (t) => {
  t.equal(formatSocketAddress('127.0.0.1', 80), '127.0.0.1:80')
  t.equal(formatSocketAddress('::1', 4102), '[::1]:4102')
  for (const [text, host, port] of TCP) t.equal(formatSocketAddress(host, port).replace(':04102', ':4102'), text.replace(':04102', ':4102'))
})
