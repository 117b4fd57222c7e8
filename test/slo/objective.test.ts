import t from 'tap'
import { EventWindow } from '../../lib/slo/window.js'
import { Objective, type SloWindows } from '../../lib/slo/objective.js'

const MIN = 60_000
const windows: SloWindows = { short: 5 * MIN, long: 60 * MIN, burnRate: 14.4, budget: 24 * 60 * MIN }

t.test('a window counts what happened in it and forgets what left it', async (t) => {
  const w = new EventWindow(60_000, 1_000)
  w.record(0, false)
  w.record(500, true)
  w.record(30_000, true)
  t.same(w.counts(30_000), { total: 3, bad: 2 })
  t.same(w.counts(60_999), { total: 1, bad: 1 }, 'the first second left the window')
  t.same(w.counts(90_000), { total: 0, bad: 0 })
  w.record(10 * 60_000, false)
  t.same(w.counts(10 * 60_000), { total: 1, bad: 0 }, 'a jump longer than the window empties it')
})

t.test('the budget and burn rates match a hand calculation', async (t) => {
  const o = new Objective('api', 0.99, windows)
  // One hour of steady traffic: 100 requests a minute, 2 of them bad each minute.
  for (let m = 0; m < 60; m++) {
    for (let i = 0; i < 100; i++) o.record(m * MIN + i * 500, i < 2)
  }
  const { status } = o.evaluate(60 * MIN - 1)
  // 2 % bad against an allowed 1 %: a burn rate of 2 in both windows.
  t.equal(status.burnRate.short.toFixed(6), '2.000000')
  t.equal(status.burnRate.long.toFixed(6), '2.000000')
  // 6 000 events allow 60 bad; 120 were: the budget is overspent by one allowance.
  t.equal(status.budgetRemaining.toFixed(6), '-1.000000')
  t.equal(status.breached, false, 'a burn of 2 is not a fast burn')
  t.equal(new Objective('idle', 0.999, windows).evaluate(0).status.budgetRemaining, 1, 'no events: the whole budget')
})

t.test('an error burst trips one breach, and it recovers once the short window is clean', async (t) => {
  const o = new Objective('checkout', 0.999, windows)
  const changes: string[] = []
  const step = (now: number): void => {
    const { change } = o.evaluate(now)
    if (change !== null) changes.push(`${change}@${now / MIN}`)
  }
  let now = 0
  // 50 minutes of healthy traffic, 10 requests a second.
  for (; now < 50 * MIN; now += 100) o.record(now, false)
  step(now)
  // A burst: every request fails for 5 minutes, evaluated every 10 s (as a scrape or request would).
  for (const end = now + 5 * MIN; now < end; now += 100) {
    o.record(now, true)
    if (now % 10_000 === 0) step(now)
  }
  t.equal(changes.length, 1, 'one breach for the whole burst, not one per request')
  t.match(changes[0], /^breach@/)
  t.ok(o.evaluate(now).status.breached)
  // Healthy again: the long window still holds the burst, the short one clears.
  for (const end = now + 10 * MIN; now < end; now += 100) {
    o.record(now, false)
    if (now % 10_000 === 0) step(now)
  }
  t.equal(changes.length, 2)
  t.match(changes[1], /^recover@/)
  const { status } = o.evaluate(now)
  t.equal(status.breached, false)
  t.ok(status.burnRate.long > 14.4, 'the long window still burns fast: without the short window the alert would not clear')
})

t.test('a blip shorter than the long window can tolerate does not breach', async (t) => {
  const o = new Objective('blip', 0.999, windows)
  let now = 0
  for (; now < 60 * MIN; now += 100) o.record(now, false)
  // 20 s of errors: the short window burns hot, the long one does not.
  for (const end = now + 20_000; now < end; now += 100) o.record(now, true)
  const { status, change } = o.evaluate(now)
  t.ok(status.burnRate.short > 14.4)
  t.ok(status.burnRate.long < 14.4)
  t.equal(change, null)
})
