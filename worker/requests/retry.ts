// A staff retry: a failed or cancelled request gets a new attempt — status back to `pending` and a new
// pg-boss job, in one transaction (the caller's, when `db` is one), as the engine's own retries do
// (engine/attempts.ts settleFailure). The row's NOTIFY wakes an engine on any instance.
import { randomUUID } from 'node:crypto'
import { access } from 'node:fs/promises'
import path from 'node:path'
import type { PgBoss } from 'pg-boss'
import type { Executor } from '../../db/index.ts'
import type { ProcessingRequest } from '../../db/types.ts'
import { ConflictError, NotFoundError } from '../errors.ts'
import { getFeature } from '../features/registry.ts'
import { sendAttempt } from '../queue/queues.ts'
import { inputDir } from './media.ts'

export const RETRYABLE = ['failed', 'cancelled'] as const

/**
 * Sends a new attempt of request `id`. Throws NotFoundError when there is no such request, and
 * ConflictError when it is not failed or cancelled, its feature is no longer registered, or its
 * uploaded file is gone (a cancel removes the request's files).
 */
export async function retryRequest(db: Executor, boss: PgBoss, id: string, options: { mediaRoot: string }): Promise<ProcessingRequest> {
  if (!db.isTransaction) return db.transaction().execute((trx) => retryRequest(trx, boss, id, options))
  // The row lock orders this retry against a concurrent cancel, delete or second retry.
  const current = await db.selectFrom('processing_requests').selectAll().where('id', '=', id).forUpdate().executeTakeFirst()
  if (!current) throw new NotFoundError()
  if (!(RETRYABLE as readonly string[]).includes(current.status)) {
    throw new ConflictError(`Only a failed or cancelled request can be retried; this one is ${current.status}.`, { status: current.status })
  }
  if (!getFeature(current.feature)) throw new ConflictError(`The feature "${current.feature}" is not registered.`, { status: current.status })
  if (current.upload && !(await exists(path.join(inputDir(options.mediaRoot, id), current.upload.name)))) {
    throw new ConflictError('The uploaded file of this request no longer exists.', { status: current.status })
  }
  const jobId = randomUUID()
  // Results of an earlier attempt (none for failed or cancelled, normally) would contradict `pending`.
  await db.deleteFrom('processing_results').where('request_id', '=', id).execute()
  const row = await db.updateTable('processing_requests')
    .set({ status: 'pending', job_id: jobId, progress: 0, error_message: null, started_at: null, finished_at: null })
    .where('id', '=', id).returningAll().executeTakeFirstOrThrow()
  await sendAttempt(db, boss, current.feature, id, { id: jobId })
  return row
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(() => true, () => false)
}
