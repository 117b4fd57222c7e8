import t from 'tap'
import { migrateContract } from './migrate-contract.js'
import { requireServer } from './helpers.js'

t.test('mariadb', async (t) => {
  if (!await requireServer(t, 'MariaDB', '127.0.0.1', 3306)) return
  migrateContract(t, 'mysql://root@127.0.0.1:3306/test')
})
