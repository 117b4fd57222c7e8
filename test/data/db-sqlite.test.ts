import t from 'tap'
import { dbContract } from './db-contract.js'

t.test('sqlite :memory:', async (t) => { dbContract(t, { url: 'sqlite::memory:' }) })
t.test('sqlite file', async (t) => {
  const dir = t.testdir({})
  dbContract(t, { url: 'sqlite:nested/dir/test.sqlite', dataDir: dir })
})
