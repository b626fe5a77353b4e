// Development only: a verified demo account to sign in with (demo@example.com / conveyor-demo).
import type { SeedLoader } from './index.ts'
import { findUserByEmail, createUser } from '../server/accounts/users.ts'

const load: SeedLoader = async (trx, { log }) => {
  const email = 'demo@example.com'
  if (await findUserByEmail(trx, email)) return
  await createUser(trx, { email, password: 'conveyor-demo', name: 'Demo User', emailVerified: true })
  log.info(`Created the demo account ${email} (password: conveyor-demo)`)
}

export default load
