// One run of a schedule: a processing request created exactly as create/ creates one (same
// validation, same transactional enqueue), marked with the schedule, and the run counted, all in
// one transaction.
import { sql } from 'kysely'
import type { PgBoss } from 'pg-boss'
import type { Executor } from '../../db/index.ts'
import { createRequest } from '../requests/create.ts'
import { findByIdempotencyKey } from '../requests/repository.ts'
import type { ProcessingRequest } from '../../db/types.ts'

export interface RunOptions {
  /** A tick's identity: the same tick delivered twice creates one request. */
  idempotencyKey: string | null
  /** Ticks skip a schedule disabled since they were queued; run-now does not. */
  onlyIfEnabled: boolean
}

/**
 * The created request, or null when the schedule is gone, disabled (for ticks) or the tick replayed.
 * Runs in the caller's transaction when `db` is one (run-now adds its audit entry to it).
 */
export async function createScheduledRequest(db: Executor, boss: PgBoss, scheduleId: string, options: RunOptions): Promise<ProcessingRequest | null> {
  if (db.isTransaction) return run(db, boss, scheduleId, options)
  return db.transaction().execute((trx) => run(trx, boss, scheduleId, options))
}

async function run(trx: Executor, boss: PgBoss, scheduleId: string, options: RunOptions): Promise<ProcessingRequest | null> {
  // The row lock orders this run against concurrent edits and runs of the same schedule.
  const schedule = await trx.selectFrom('schedules').selectAll().where('id', '=', scheduleId).forUpdate().executeTakeFirst()
  if (!schedule || (options.onlyIfEnabled && !schedule.enabled)) return null
  if (options.idempotencyKey && (await findByIdempotencyKey(trx, schedule.owner_id, options.idempotencyKey))) return null
  const request = await createRequest(trx, boss, {
    ownerId: schedule.owner_id,
    feature: schedule.feature,
    input: schedule.input,
    scheduleId: schedule.id,
    idempotencyKey: options.idempotencyKey,
  })
  await trx.updateTable('schedules')
    .set({ last_run_at: sql`now()`, total_run_count: sql`total_run_count + 1` })
    .where('id', '=', schedule.id).execute()
  return request
}
