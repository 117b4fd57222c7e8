import t from 'tap'
import { dbContract } from './db-contract.js'
import { requireServer } from './helpers.js'

t.test('mariadb', async (t) => {
  if (!await requireServer(t, 'MariaDB', '127.0.0.1', 3306)) return
  dbContract(t, { url: 'mysql://root@127.0.0.1:3306/test' })
})
