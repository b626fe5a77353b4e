// Schedules run on pg-boss: each enabled row is mirrored as a pg-boss schedule on the tick queue
// (key = schedule id), written in the same transaction as the row, so every instance sees a change
// at once. pg-boss fires each tick once across instances; the tick worker turns it into a
// processing request exactly as `create/` does.
//
// Missed ticks: a schedule whose ticks fell while every instance was down fires ONCE when
// Conveyor is back (pg-boss's `missed: 'once'`), not once per missed tick and not never, which is
// what Celery beat did for the original: a nightly clean-up that missed three nights runs once.
import { fromKysely, type Job, type PgBoss } from 'pg-boss'
import type { Db, Executor } from '../../db/index.ts'
import type { Schedule } from '../../db/types.ts'
import type { Logger } from 'pino'
import { NO_METRICS, type JobMetrics } from '../metrics.ts'
import { createScheduledRequest } from './run.ts'

export const TICK_QUEUE = 'schedule-tick'

interface TickData {
  scheduleId: string
}

export async function ensureTickQueue(boss: PgBoss): Promise<void> {
  // A tick only inserts two rows: a short expiry, and a few quick retries if the database blinks.
  await boss.createQueue(TICK_QUEUE, { notify: true, retryLimit: 3, retryDelay: 5, retryBackoff: true, expireInSeconds: 120 })
}

/** Mirrors one schedule into pg-boss within the caller's transaction (`null` row: deleted). */
export async function syncSchedule(trx: Executor, boss: PgBoss, id: string, row: Schedule | null): Promise<void> {
  const db = fromKysely(trx)
  if (row?.enabled) {
    await boss.schedule(TICK_QUEUE, row.cron, { scheduleId: row.id } satisfies TickData, { tz: row.timezone, key: row.id, missed: 'once', db })
  } else {
    await boss.unschedule(TICK_QUEUE, id, { db })
  }
}

/** Makes pg-boss's schedules match the table: adds missing or changed ones, removes strays. */
export async function reconcileSchedules(db: Db, boss: PgBoss, log: Logger): Promise<{ added: number; removed: number }> {
  const [rows, mirrored] = await Promise.all([
    db.selectFrom('schedules').selectAll().where('enabled', '=', true).execute(),
    boss.getSchedules(TICK_QUEUE),
  ])
  const wanted = new Map(rows.map((r) => [r.id, r]))
  let added = 0
  let removed = 0
  for (const s of mirrored) {
    const row = wanted.get(s.key)
    if (!row) {
      await boss.unschedule(TICK_QUEUE, s.key)
      removed++
    } else if (row.cron === s.cron && row.timezone === s.timezone) {
      wanted.delete(s.key)
    }
  }
  for (const row of wanted.values()) {
    await boss.schedule(TICK_QUEUE, row.cron, { scheduleId: row.id } satisfies TickData, { tz: row.timezone, key: row.id, missed: 'once' })
    added++
  }
  if (added || removed) log.info(`Schedules reconciled with pg-boss: ${added} added or updated, ${removed} removed`)
  return { added, removed }
}

/**
 * What makes a tick's request unique. pg-boss forwards a cron occurrence at least once: two passes
 * (of one instance or two) can each forward it as a job of its own, one second apart (seen in CI:
 * two requests at 17:35:00.29 and 17:35:01.30 for one "* * * * *" tick), so the job's id does not
 * identify the tick. A schedule has minute resolution (five-field cron), so the minute the tick was
 * forwarded in does: at most one request per schedule and minute. A catch-up sent beside the
 * occurrence due now collapses into it, which is the one catch-up run the contract promises.
 * Without the job's creation time (a job built by hand), its id.
 */
export function tickKey(job: Pick<Job<TickData>, 'id' | 'data'> & { createdOn?: Date }): string {
  const at = job.createdOn instanceof Date ? job.createdOn.getTime() : NaN
  return Number.isFinite(at) ? `schedule-tick:${job.data.scheduleId}:${Math.floor(at / 60_000)}` : `schedule-tick:${job.id}`
}

/** Handles one tick: creates the request, counts the run. A tick for a disabled or deleted
 * schedule (one that raced an edit) creates nothing; a replayed tick creates nothing twice. */
export async function handleTick(db: Db, boss: PgBoss, log: Logger, job: Job<TickData> & { createdOn?: Date }, metrics: JobMetrics = NO_METRICS): Promise<string | null> {
  const created = await createScheduledRequest(db, boss, job.data.scheduleId, { idempotencyKey: tickKey(job), onlyIfEnabled: true })
  if (created) metrics.job(created.feature, 'created')
  if (!created) log.info({ scheduleId: job.data.scheduleId, tick: job.id }, 'tick for a disabled or deleted schedule, or replayed: nothing created')
  return created?.id ?? null
}

export interface Scheduler {
  stop(): Promise<void>
}

/** Worker role: reconcile at start, then handle ticks until stopped. */
export async function startScheduler(services: { db: Db; boss: PgBoss; log: Logger; metrics?: JobMetrics }): Promise<Scheduler> {
  const { db, boss, log } = services
  await ensureTickQueue(boss)
  await reconcileSchedules(db, boss, log)
  await boss.work<TickData>(TICK_QUEUE, { batchSize: 1, pollingIntervalSeconds: 2, includeMetadata: true }, async ([job]) => {
    await handleTick(db, boss, log, job!, services.metrics)
  })
  return {
    async stop() {
      await boss.offWork(TICK_QUEUE, { wait: true })
    },
  }
}
