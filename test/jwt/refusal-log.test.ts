import t from 'tap'
import { bearer, boot, claims, hsToken } from './helpers.js'

t.test('a refused token is logged once, at warn, without a stack; the 401 body keeps its shape', async (t) => {
  const { app, log } = await boot(t)
  for (const url of ['/protected', '/manual']) {
    log.lines.length = 0
    const res = await app.inject({ url, headers: bearer(hsToken({ alg: 'HS256', typ: 'JWT' }, claims(), 'not-the-key-0123456789abcdef')) })
    t.equal(res.statusCode, 401)
    t.equal(res.headers['www-authenticate'], 'Bearer')
    t.same(res.json(), { statusCode: 401, code: 'FST_PYWATT_JWT_UNAUTHORIZED', error: 'Unauthorized', message: 'Unauthorized' })
    const about = log.entries().filter((e) => e.msg !== 'incoming request' && e.msg !== 'request completed')
    t.same(about.map((e) => [e.level, e.msg]), [[40, 'jwt rejected']], `${url}: one line about the refusal`)
    t.notOk(log.lines.some((l) => l.includes('"stack"')), `${url}: no stack logged`)
  }
})
