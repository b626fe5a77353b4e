// The monitoring numbers (GET /api/v1/admin/monitoring/, and the queue-depth gauge at scrape time):
// queue depth by state per feature, the last hour's outcomes per minute, the live instances and the
// oldest waiting request. Three queries, each on an index (see bench/monitoring.ts for their plans
// on 100,000 requests), run in parallel on the pool.
import { sql } from 'kysely'
import type { Executor } from '../../db/index.ts'
import { INSTANCE_STALE_SECONDS } from '../engine/instances.ts'
import { BOSS_SCHEMA } from '../queue/boss.ts'
import { queueName } from '../queue/queues.ts'
import { readFeatureSettings } from './feature-settings.ts'

export interface FeatureDepth {
  name: string
  /** Pending and runnable now (paused ones included: they wait for the resume). */
  queued: number
  /** Processing. */
  active: number
  /** Pending, waiting for a retry's delay. */
  delayed: number
  completed_last_hour: number
  failed_last_hour: number
  paused: boolean
  concurrency: number | null
}

export interface InstanceRow {
  id: string
  role: string
  threads: number
  busy: number
  started_at: Date
  last_seen_at: Date
}

export interface Overview {
  features: FeatureDepth[]
  threads: { size: number; busy: number }
  instances: InstanceRow[]
  throughput: { minute: Date; completed: number; failed: number }[]
  oldest_waiting_seconds: number
}

interface DepthRow { feature: string; queued: number; active: number; delayed: number; oldest: number | null }

/**
 * Unfinished requests by feature: an index-only scan of the partial index on (feature, status), and
 * for pending ones a lookup of their job (by primary key) to tell runnable from delayed. The oldest
 * waiting request is the one runnable for longest (since its job's start_after: a retry waits from
 * the end of its delay, not from the request's creation).
 */
export const queueDepthsQuery = () => sql<DepthRow>`
    WITH unfinished AS MATERIALIZED (
      SELECT r.feature, r.status, r.created_at,
             -- Only a pending request's job is looked up (by its primary key), once (MATERIALIZED): one probe per waiting request,
             -- whatever the size of pg-boss's job table (it keeps finished jobs for days).
             CASE WHEN r.status = 'pending' THEN (
               SELECT j.start_after FROM ${sql.table(`${BOSS_SCHEMA}.job`)} j WHERE j.name = ${queueName('')} || r.feature AND j.id = r.job_id)
             END AS start_after
        FROM processing_requests r
       WHERE r.status IN ('pending', 'processing'))
    SELECT feature,
           count(*) FILTER (WHERE status = 'pending' AND coalesce(start_after <= now(), true))::int AS queued,
           count(*) FILTER (WHERE status = 'processing')::int AS active,
           count(*) FILTER (WHERE status = 'pending' AND start_after > now())::int AS delayed,
           extract(epoch FROM now() - min(coalesce(start_after, created_at))
             FILTER (WHERE status = 'pending' AND coalesce(start_after <= now(), true)))::float8 AS oldest
      FROM unfinished
     GROUP BY feature`

export async function queueDepths(db: Executor): Promise<DepthRow[]> {
  return (await queueDepthsQuery().execute(db)).rows
}

interface FinishedRow { minute: Date; feature: string; completed: number; failed: number }

/** Completed and failed requests of the last hour by minute and feature: a range of the finished index. */
export const finishedLastHourQuery = () => sql<FinishedRow>`
    SELECT date_trunc('minute', finished_at) AS minute, feature,
           count(*) FILTER (WHERE status = 'completed')::int AS completed,
           count(*) FILTER (WHERE status = 'failed')::int AS failed
      FROM processing_requests
     WHERE status IN ('completed', 'failed') AND finished_at >= date_trunc('minute', now()) - interval '59 minutes'
     GROUP BY 1, 2`

async function finishedLastHour(db: Executor): Promise<FinishedRow[]> {
  return (await finishedLastHourQuery().execute(db)).rows
}

export const liveInstancesQuery = (db: Executor) => db.selectFrom('instances').select(['id', 'role', 'threads', 'busy', 'started_at', 'last_seen_at'])
    .where('last_seen_at', '>', sql<Date>`now() - make_interval(secs => ${INSTANCE_STALE_SECONDS})`)
    .orderBy('started_at').orderBy('id')

export async function liveInstances(db: Executor): Promise<InstanceRow[]> {
  return liveInstancesQuery(db).execute()
}

/** The database's clock, truncated to the minute: the throughput series ends at this minute. */
async function currentMinute(db: Executor): Promise<Date> {
  const { rows: [row] } = await sql<{ m: Date }>`SELECT date_trunc('minute', now()) AS m`.execute(db)
  return row!.m
}

/** Everything the monitoring page shows, for the registered `features` (in their order). */
export async function monitoringOverview(db: Executor, features: string[]): Promise<Overview> {
  const [depths, finished, instances, settings, now] = await Promise.all([
    queueDepths(db), finishedLastHour(db), liveInstances(db), readFeatureSettings(db), currentMinute(db),
  ])
  const depthOf = new Map(depths.map((d) => [d.feature, d]))
  const done = new Map<string, { completed: number; failed: number }>()
  const byMinute = new Map<number, { completed: number; failed: number }>()
  for (const f of finished) {
    const d = done.get(f.feature) ?? { completed: 0, failed: 0 }
    d.completed += f.completed
    d.failed += f.failed
    done.set(f.feature, d)
    const m = byMinute.get(f.minute.getTime()) ?? { completed: 0, failed: 0 }
    m.completed += f.completed
    m.failed += f.failed
    byMinute.set(f.minute.getTime(), m)
  }
  const throughput = Array.from({ length: 60 }, (_, i) => {
    const minute = new Date(now.getTime() - (59 - i) * 60_000)
    return { minute, ...(byMinute.get(minute.getTime()) ?? { completed: 0, failed: 0 }) }
  })
  const oldest = Math.max(0, ...depths.map((d) => d.oldest ?? 0))
  return {
    features: features.map((name) => {
      const d = depthOf.get(name)
      const s = settings.get(name)
      return {
        name,
        queued: d?.queued ?? 0,
        active: d?.active ?? 0,
        delayed: d?.delayed ?? 0,
        completed_last_hour: done.get(name)?.completed ?? 0,
        failed_last_hour: done.get(name)?.failed ?? 0,
        paused: s?.paused ?? false,
        concurrency: s?.concurrency ?? null,
      }
    }),
    threads: instances.reduce((t, i) => ({ size: t.size + i.threads, busy: t.busy + i.busy }), { size: 0, busy: 0 }),
    instances,
    throughput,
    oldest_waiting_seconds: Math.round(oldest * 10) / 10,
  }
}
