import t from 'tap'
import { join } from 'node:path'
import { migrateContract } from './migrate-contract.js'

t.test('sqlite file', async (t) => {
  migrateContract(t, `sqlite:${join(t.testdir({}), 'migrations.sqlite')}`)
})
