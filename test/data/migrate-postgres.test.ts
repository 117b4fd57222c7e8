import t from 'tap'
import { migrateContract } from './migrate-contract.js'
import { requireServer } from './helpers.js'

t.test('postgres', async (t) => {
  if (!await requireServer(t, 'PostgreSQL', '127.0.0.1', 5432)) return
  migrateContract(t, 'postgres://postgres@127.0.0.1:5432/test')
})
