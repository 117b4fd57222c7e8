import t from 'tap'
import { createServer } from 'node:http'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { openPage, requireChromium } from '../helpers/browser.js'

/*
 * The headless-browser tooling works: a page whose script changes the DOM
 * 300 ms after load is seen changed. Status-page tests build on this.
 */

const PAGE = `<!doctype html>
<html><head><title>smoke</title></head>
<body><p id="state">loading</p>
<script>
  const start = performance.now()
  setTimeout(() => {
    const done = document.createElement('p')
    done.id = 'done'
    done.dataset.after = String(performance.now() - start)
    done.textContent = 'updated ' + (6 * 7)
    document.body.append(done)
    document.getElementById('state').textContent = 'ready'
  }, 300)
</script></body></html>`

if (requireChromium(t) !== null) {
  t.test('Chromium sees a DOM update made by the page\'s script after 300 ms', async (t) => {
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      res.end(PAGE)
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())))

    const { port } = server.address() as AddressInfo
    const { page, close } = await openPage(`http://127.0.0.1:${port}/`)
    t.after(close)
    t.equal(await page.title(), 'smoke')
    const done = await page.waitForSelector('#done', { timeout: 5_000 })
    t.equal(await done?.evaluate((el) => el.textContent), 'updated 42', 'the script ran in the browser')
    t.ok(Number(await done?.evaluate((el) => el.getAttribute('data-after'))) >= 299, 'the update is the timed one, not the served HTML')
    t.equal(await page.$eval('#state', (el) => el.textContent), 'ready')
  })
}
