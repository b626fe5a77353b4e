// What a user's deletion does to the job system: every request of theirs is cancelled (running ones
// abort through the row's NOTIFY) and deleted with its results, and their schedules leave pg-boss's
// cron, all in the caller's transaction (the user's row goes in the same one).
import type { PgBoss } from 'pg-boss'
import type { Transaction } from 'kysely'
import type { Database } from '../../db/types.ts'
import { syncSchedule } from '../schedules/scheduler.ts'
import { deleteRequest } from './repository.ts'

export interface OwnerData {
  /** Deleted requests: after the commit, remove their files (removeRequestFiles). */
  requestIds: string[]
  scheduleIds: string[]
}

/** Deletes every request and schedule of `ownerId` inside `trx`, leaving no pg-boss job or cron entry behind. */
export async function deleteOwnerData(trx: Transaction<Database>, boss: PgBoss, ownerId: number): Promise<OwnerData> {
  // Locked in id order, so two deletions touching the same rows cannot deadlock.
  const requests = await trx.selectFrom('processing_requests').select('id').where('owner_id', '=', ownerId).orderBy('id').forUpdate().execute()
  for (const { id } of requests) await deleteRequest(trx, boss, id, ownerId)
  const schedules = await trx.deleteFrom('schedules').where('owner_id', '=', ownerId).returning('id').execute()
  for (const { id } of schedules) await syncSchedule(trx, boss, id, null)
  return { requestIds: requests.map((r) => r.id), scheduleIds: schedules.map((s) => s.id) }
}
