import t from 'tap'
import { Dispatcher } from '../../lib/transport/dispatcher.js'

type Msg = { op: 'a', n: number } | { op: 'b', n: number }

t.test('messages that arrive before their consumer are delivered in order when it registers', async (t) => {
  const unhandled: unknown[] = []
  const d = new Dispatcher<Msg>(10, (...args) => unhandled.push(args))
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
  const d = new Dispatcher<Msg>(10, (...args) => unhandled.push(args))
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
  const d = new Dispatcher<Msg>(2, (...args) => unhandled.push(args))
  d.dispatch({ op: 'a', n: 1 })
  d.dispatch({ op: 'a', n: 2 })
  d.dispatch({ op: 'a', n: 3 })
  t.same(unhandled, [['a', 1, 'overflow']])
  const got: number[] = []
  d.on('a', (m) => got.push(m.n))
  t.same(got, [1, 2], 'the oldest are kept')
})

t.test('one consumer per op; unregistering frees the slot', async (t) => {
  const d = new Dispatcher<Msg>(10, () => {})
  const off = d.on('a', () => {})
  t.throws(() => d.on('a', () => {}), /already registered/)
  off()
  off()
  const got: number[] = []
  d.on('a', (m) => got.push(m.n))
  d.dispatch({ op: 'a', n: 9 })
  t.same(got, [9])
})
