// Recovery of lost attempts, at start-up and then periodically on every engine: an unfinished request
// whose job is no longer held (its process was killed, pg-boss expired it, or its heartbeat went
// silent) is retried or failed per its feature's policy. Safe on many instances at once: the
// settlement re-checks the row under a lock, so each lost attempt is settled once.
import { sql } from 'kysely'
import type { PgBoss } from 'pg-boss'
import type { Logger } from 'pino'
import type { Db } from '../../db/index.ts'
import { getFeature } from '../features/registry.ts'
import { BOSS_SCHEMA } from '../queue/boss.ts'
import { queueName } from '../queue/queues.ts'
import { NO_METRICS, type JobMetrics } from '../metrics.ts'
import { settleFailure } from './attempts.ts'

interface LostAttempt {
  id: string
  feature: string
  job_id: string
  state: string | null
  retry_count: number | null
  stale: boolean
}

const LOST_MESSAGE = 'The worker running this request stopped unexpectedly.'

/** Settles every lost attempt it finds (up to `limit` per call); returns how many it settled. */
export async function reconcile(db: Db, boss: PgBoss, log: Logger, features: string[], limit = 100, metrics: JobMetrics = NO_METRICS): Promise<number> {
  if (features.length === 0) return 0
  // pg-boss's job table is documented for direct SQL; joining it is one query instead of one per request.
  const { rows } = await sql<LostAttempt>`
    SELECT r.id, r.feature, r.job_id, j.state::text AS state, j.retry_count,
           coalesce(j.state = 'active', false) AS stale
      FROM processing_requests r
      LEFT JOIN ${sql.table(`${BOSS_SCHEMA}.job`)} j ON j.name = ${queueName('')} || r.feature AND j.id = r.job_id
     WHERE r.status IN ('pending', 'processing') AND r.feature IN (${sql.join(features)})
       AND (j.id IS NULL
            OR j.state IN ('completed', 'cancelled', 'failed')
            OR (j.state = 'active' AND j.heartbeat_seconds IS NOT NULL
                AND j.heartbeat_on + j.heartbeat_seconds * interval '1 second' < now()))
     LIMIT ${limit}`.execute(db)
  let settled = 0
  for (const row of rows) {
    const feature = getFeature(row.feature)
    if (!feature) continue
    try {
      if (row.state === 'cancelled') {
        // Cancelled straight in pg-boss (its dashboard): the request is cancelled too.
        await db.updateTable('processing_requests').set({ status: 'cancelled', finished_at: sql<Date>`now()` })
          .where('id', '=', row.id).where('job_id', '=', row.job_id).where('status', 'in', ['pending', 'processing']).execute()
      } else {
        const status = await settleFailure(db, boss, {
          requestId: row.id, jobId: row.job_id, feature, mode: 'policy',
          // A stale active job is failed first, fenced to the attempt that went silent.
          attempt: row.stale ? { id: row.job_id, retryCount: row.retry_count ?? 0 } : null,
          message: row.state === null ? 'The job of this request disappeared from the queue.' : LOST_MESSAGE,
        })
        if (status) metrics.job(row.feature, status === 'pending' ? 'retried' : 'failed')
        if (status) log.warn({ requestId: row.id, feature: row.feature, jobState: row.state, status }, 'recovered a lost attempt')
      }
      settled++
    } catch (err) {
      log.error({ err, requestId: row.id }, 'could not recover a lost attempt')
    }
  }
  return settled
}
