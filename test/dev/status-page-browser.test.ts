import t from 'tap'
import { fileURLToPath } from 'node:url'
import { DevCluster } from '../../lib/dev/cluster.js'
import { resolveDevConfig } from '../../lib/dev/config.js'
import { openPage, requireChromium } from '../helpers/browser.js'
import { eventually, http } from '../helpers/unit-cli.js'

const PEER = fileURLToPath(new URL('../../dist/test/fixtures/peer-module.js', import.meta.url))

if (requireChromium(t) !== null) {
  t.test('the status page in a browser: live rows for modules and requests, hostile logs shown as text', async (t) => {
    const config = resolveDevConfig({
      gatewayPort: 0,
      heartbeat: 200,
      announceTimeout: 0,
      modules: [
        { name: 'users', command: [process.execPath, PEER], mount: '/users' },
        { name: 'orders', command: [process.execPath, PEER], mount: '/orders' }
      ]
    }, process.cwd())
    const cluster = new DevCluster(config, { out: { write: () => true } as unknown as NodeJS.WritableStream, grace: 2_000 })
    t.after(async () => await cluster.shutdown())
    await cluster.listen()
    await cluster.start()
    await eventually(async () => [...cluster.hosts.values()].every((h) => h.state === 'running'), (ok) => ok, 15_000)

    const { page, close } = await openPage(`${cluster.url}/_pywatt`)
    t.after(close)
    t.equal(await page.title(), 'pywatt-dev')
    for (const name of ['users', 'orders']) {
      t.equal(await page.$eval(`tr[data-module="${name}"]`, (el) => el.getAttribute('data-state')), 'running', `${name} has its row`)
    }
    t.equal(await page.$('tr[data-request][data-path="/users/hello"]'), null, 'no request yet')

    // Made after the page loaded: the page shows it only if it refreshes itself.
    t.equal((await http(`${cluster.url}/users/hello`)).status, 200)
    const row = await page.waitForSelector('tr[data-request][data-path="/users/hello"]', { timeout: 5_000 })
    t.same(await row?.evaluate((el) => [el.getAttribute('data-method'), el.getAttribute('data-status'), el.getAttribute('data-module')]), ['GET', '200', 'users'])

    const hostile = '<img src=x onerror="window.pwned=1"><b id="injected">bold</b>'
    await http(`${cluster.url}/orders/log`, { method: 'POST', body: JSON.stringify({ text: hostile }), headers: { 'content-type': 'application/json' } })
    await page.waitForFunction(`document.querySelector('pre[data-logs="orders"]')?.textContent?.includes(${JSON.stringify(hostile)}) === true`, { timeout: 5_000 })
    t.equal(await page.$('#injected'), null, 'no element made from the log line')
    t.equal(await page.evaluate('window.pwned'), undefined, 'no script ran')
  })
}
