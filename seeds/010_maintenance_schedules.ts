// Built-in maintenance schedules, created once at setup and editable like any other schedule:
// hourly, delete expired sessions; daily, purge requests older than RETENTION_DAYS. They belong
// to an inactive system account (it cannot sign in); staff may give them another owner.
// Their pg-boss mirrors are created by the reconciliation every worker runs at start.
import { randomBytes } from 'node:crypto'
import type { SeedLoader } from './index.ts'
import { createUser, findUserByEmail } from '../server/accounts/users.ts'

export const SYSTEM_EMAIL = 'system@conveyor.invalid'

const load: SeedLoader = async (trx, { config, log }) => {
  let owner = await findUserByEmail(trx, SYSTEM_EMAIL)
  if (!owner) {
    owner = await createUser(trx, { email: SYSTEM_EMAIL, name: 'Conveyor maintenance', password: randomBytes(32).toString('hex') })
    await trx.updateTable('users').set({ is_active: false }).where('id', '=', owner.id).execute()
  }
  const schedules = [
    {
      name: 'maintenance: clear expired sessions',
      feature: 'clear-expired-sessions',
      cron: '17 * * * *',
      input: {},
      description: 'Deletes expired sessions (API keys) and finished rate-limit counters, every hour.',
    },
    {
      name: 'maintenance: purge old requests',
      feature: 'purge-old-requests',
      cron: '43 3 * * *',
      input: { older_than_days: config.retentionDays },
      description: `Deletes finished requests, results and files older than the retention (RETENTION_DAYS, ${config.retentionDays} at setup), every night.`,
    },
  ]
  for (const s of schedules) {
    await trx.insertInto('schedules')
      .values({ ...s, input: JSON.stringify(s.input), timezone: 'UTC', owner_id: owner.id })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute()
    log.info(`Created schedule "${s.name}" (${s.cron} UTC)`)
  }
}

export default load
