import t from 'tap'
import { OpRouter } from '../../lib/transport/op-router.js'

type Msg = { op: 'a', n: number } | { op: 'b', n: number }

const fail = (err: unknown): never => { throw err }

t.test('messages that arrive before their consumer are delivered in order when it registers', async (t) => {
  const unhandled: unknown[] = []
  const d = new OpRouter<Msg>({ messages: 10, bytes: Infinity }, (...args) => unhandled.push(args), fail)
  d.dispatch({ op: 'a', n: 1 })
  d.dispatch({ op: 'b', n: 2 })
  d.dispatch({ op: 'a', n: 3 })
  t.equal(d.bufferedCount, 3)
  const got: number[] = []
  d.on('a', (m) => got.push(m.n))
  t.same(got, [1, 3])
  t.equal(d.bufferedCount, 1)
  d.dispatch({ op: 'a', n: 4 })
  t.same(got, [1, 3, 4])
  t.same(unhandled, [])
})

t.test('seal() reports what no consumer claimed, then drops unclaimed ops as they come', async (t) => {
  const unhandled: unknown[] = []
  const d = new OpRouter<Msg>({ messages: 10, bytes: Infinity }, (...args) => unhandled.push(args), fail)
  d.dispatch({ op: 'b', n: 1 })
  d.dispatch({ op: 'b', n: 2 })
  d.seal()
  t.same(unhandled, [['b', 2, 'sealed']])
  d.dispatch({ op: 'b', n: 3 })
  t.same(unhandled, [['b', 2, 'sealed'], ['b', 1, 'sealed']])
  t.equal(d.bufferedCount, 0)
})

t.test('the buffer is bounded', async (t) => {
  const unhandled: unknown[] = []
  const d = new OpRouter<Msg>({ messages: 2, bytes: Infinity }, (...args) => unhandled.push(args), fail)
  d.dispatch({ op: 'a', n: 1 })
  d.dispatch({ op: 'a', n: 2 })
  d.dispatch({ op: 'a', n: 3 })
  t.same(unhandled, [['a', 1, 'overflow']])
  const got: number[] = []
  d.on('a', (m) => got.push(m.n))
  t.same(got, [1, 2], 'the oldest are kept')
})

t.test('the buffer is bounded by bytes too; delivered messages give their bytes back', async (t) => {
  const unhandled: unknown[] = []
  const d = new OpRouter<Msg>({ messages: 100, bytes: 1_000 }, (...args) => unhandled.push(args), fail)
  d.dispatch({ op: 'a', n: 1 }, 600)
  d.dispatch({ op: 'b', n: 2 }, 300)
  t.equal(d.bufferedBytes, 900)
  d.dispatch({ op: 'a', n: 3 }, 200)
  t.same(unhandled, [['a', 1, 'overflow']], 'past the byte cap: dropped and reported')
  d.dispatch({ op: 'a', n: 4 }, 100)
  t.same(unhandled, [['a', 1, 'overflow']], 'exactly at the cap is kept')
  const got: number[] = []
  d.on('a', (m) => got.push(m.n))
  t.same(got, [1, 4])
  t.equal(d.bufferedBytes, 300, 'only b is left')
  d.dispatch({ op: 'b', n: 5 }, 700)
  t.equal(d.bufferedBytes, 1_000, 'the freed bytes take new messages')
  d.seal()
  t.equal(d.bufferedBytes, 0)
})

t.test('one consumer per op; unregistering frees the slot', async (t) => {
  const d = new OpRouter<Msg>({ messages: 10, bytes: Infinity }, () => {}, fail)
  const off = d.on('a', () => {})
  t.throws(() => d.on('a', () => {}), /already registered/)
  off()
  off()
  const got: number[] = []
  d.on('a', (m) => got.push(m.n))
  d.dispatch({ op: 'a', n: 9 })
  t.same(got, [9])
})

t.test('a consumer that throws is reported with its message; the messages after it are still delivered', async (t) => {
  const errors: Array<[string, number]> = []
  const d = new OpRouter<Msg>({ messages: 10, bytes: Infinity }, () => {}, (err, m) => errors.push([(err as Error).message, m.n]))
  d.dispatch({ op: 'a', n: 1 })
  d.dispatch({ op: 'a', n: 2 })
  const got: number[] = []
  d.on('a', (m) => {
    got.push(m.n)
    if (m.n % 2 === 1) throw new Error(`odd ${m.n}`)
  })
  t.same(got, [1, 2], 'a buffered message after the one that threw is delivered')
  d.dispatch({ op: 'a', n: 3 })
  d.dispatch({ op: 'a', n: 4 })
  t.same(got, [1, 2, 3, 4])
  t.same(errors, [['odd 1', 1], ['odd 3', 3]])
})
