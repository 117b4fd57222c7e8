import t from 'tap'
import { SloTracker, type SloEvent } from '../../lib/slo/tracker.js'
import { DEFAULT_SLO_WINDOWS } from '../../lib/slo/objective.js'

const MIN = 60_000

function tracker (defs: ConstructorParameters<typeof SloTracker>[0]) {
  let now = 0
  const slo = new SloTracker(defs, DEFAULT_SLO_WINDOWS, () => now)
  const events: Array<[string, SloEvent]> = []
  slo.on('breach', (e) => events.push(['breach', e]))
  slo.on('recover', (e) => events.push(['recover', e]))
  return { slo, events, at: (ms: number) => { now = ms } }
}

t.test('objectives cover the routes and methods they name, and only those', async (t) => {
  const { slo, at } = tracker([
    { name: 'items', route: '/items/:id', method: 'get', availability: 0.99 },
    { name: 'all', availability: 0.99, latency: { threshold: 200, target: 0.9 } }
  ])
  at(1_000)
  slo.record('GET', '/items/:id', 500, 10)
  slo.record('POST', '/items/:id', 200, 10)
  slo.record('GET', '/other', 200, 500)
  slo.record('GET', undefined, 404, 1)
  const byName = Object.fromEntries(slo.status().map((s) => [s.name, s]))
  t.same(Object.keys(byName), ['items:availability', 'all:availability', 'all:latency'])
  // items: 1 request, 1 bad → 100 % bad against 1 % allowed.
  t.equal(byName['items:availability']?.burnRate.short.toFixed(6), '100.000000')
  // all: 4 requests, 1 bad (the 500) → 25 % / 1 %.
  t.equal(Math.round(byName['all:availability']?.burnRate.short ?? 0), 25)
  // latency: 1 of 4 over 200 ms → 25 % / 10 %.
  t.equal(byName['all:latency']?.burnRate.short.toFixed(6), '2.500000')
  t.ok(slo.active)
  t.notOk(new SloTracker([], DEFAULT_SLO_WINDOWS).active)
})

t.test('a burst of errors: one breach event, then one recover event, each with the status', async (t) => {
  const { slo, events, at } = tracker([{ name: 'api', availability: 0.999 }])
  let now = 0
  for (; now < 30 * MIN; now += 200) { at(now); slo.record('GET', '/x', 200, 5) }
  for (const end = now + 3 * MIN; now < end; now += 200) { at(now); slo.record('GET', '/x', 503, 5) }
  t.equal(events.length, 1)
  t.equal(events[0]?.[0], 'breach')
  t.match(events[0]?.[1].status, { name: 'api:availability', breached: true })
  // The errors stop and, with no traffic at all, a status read (a scrape) notices the recovery.
  at(now + 6 * MIN)
  slo.status()
  t.same(events.map((e) => e[0]), ['breach', 'recover'])
  slo.status()
  t.equal(events.length, 2, 'no repeat')
})
