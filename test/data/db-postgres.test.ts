import t from 'tap'
import { dbContract } from './db-contract.js'
import { requireServer } from './helpers.js'

t.test('postgres', async (t) => {
  if (!await requireServer(t, 'PostgreSQL', '127.0.0.1', 5432)) return
  dbContract(t, { url: 'postgres://postgres@127.0.0.1:5432/test' })
})
