// The engine's writes: an attempt is claimed, reports progress, completes, or fails and is retried per
// its feature's policy. Every write is fenced by the attempt's job id, so a stale attempt can never
// overwrite a newer one.
//
// Durability: these commits are asynchronous (synchronous_commit off, per transaction). A database
// crash can lose the last few hundred milliseconds of them, which only sends an attempt back to be
// recovered and run again (phases are idempotent); in exchange no job waits for a WAL flush (about
// 2 ms each on our disks) on its way. Creates and cancels stay synchronous: a client holds their answer.
import { existsSync } from 'node:fs'
import { rename, rm } from 'node:fs/promises'
import { sql, type Kysely } from 'kysely'
import { fromKysely, type Job, type JobAttempt, type PgBoss } from 'pg-boss'
import { isDatabaseUnavailable, type Db } from '../../db/index.ts'
import type { Database, ProcessingRequest, RequestStatus } from '../../db/types.ts'
import type { Feature, RetryPolicy } from '../features/api.ts'
import { completedCount, restoreFetched } from '../queue/job-insert.ts'
import { featureOfQueue, queueName, sendAttempt, type JobData } from '../queue/queues.ts'
import type { TaskResult } from '../threads/protocol.ts'
import { claimAllowance, type Allowance } from './gate.ts'
import { logCtes, type LogBatch } from './job-log.ts'

const NO_RETRY: RetryPolicy = { limit: 0, delaySeconds: 0, backoff: false }
const MAX_MESSAGE = 1000

export const clip = (message: string): string => (message.length <= MAX_MESSAGE ? message : `${message.slice(0, MAX_MESSAGE - 1)}…`)

/** Seconds before retry number `retry` (1-based): doubled each time with backoff, ±25 % jitter. */
export function retryDelay(policy: RetryPolicy, retry: number): number {
  const base = policy.backoff ? policy.delaySeconds * 2 ** (retry - 1) : policy.delaySeconds
  const capped = Math.min(base, policy.maxDelaySeconds ?? 3600)
  return capped * (policy.backoff ? 0.75 + Math.random() * 0.5 : 1)
}

/**
 * A transaction with an asynchronous commit; BEGIN and the SET travel in one round trip.
 * `beforeCommit` runs once `fn` is done, while the COMMIT is on its way, and learns how it went.
 */
async function asyncTransaction<T>(db: Db, fn: (trx: Kysely<Database>) => Promise<T>, beforeCommit?: (result: T, committed: Promise<boolean>) => void): Promise<T> {
  return db.connection().execute(async (conn) => {
    await sql.raw('BEGIN; SET LOCAL synchronous_commit = off').execute(conn)
    let result: T
    try {
      result = await fn(conn)
    } catch (err) {
      await sql.raw('ROLLBACK').execute(conn).catch(() => {})
      throw err
    }
    const commit = sql.raw('COMMIT').execute(conn)
    beforeCommit?.(result, commit.then(() => true, () => false))
    await commit
    return result
  })
}

export interface Claimed {
  job: Job<JobData>
  /** The request, now `processing`; null when the job was settled or given back by the claim itself. */
  row: ProcessingRequest | null
  /** The request's row was locked by another transaction: the job went back to the queue unchanged. */
  givenBack?: boolean
}

/**
 * Claims up to `limit` jobs of `queue` and marks their requests `processing`, in one transaction.
 * A job whose request was cancelled, deleted or moved on (row null) is completed on the spot.
 * Jobs are locked before their rows here (pg-boss's fetch comes first), the reverse of cancel's
 * order; SKIP LOCKED on the rows turns that race into "not ours" instead of a deadlock.
 * `start` receives the claims while the COMMIT travels, so threads start one round trip sooner;
 * `committed` says whether the claim held (if not, the threads' work must be dropped).
 */
export async function claimAttempts(db: Db, boss: PgBoss, queue: string, limit: number,
  start: (claimed: Claimed[], committed: Promise<boolean>) => void, onAllowance?: (a: Allowance) => void): Promise<Claimed[]> {
  return asyncTransaction(db, (trx) => claimIn(trx, boss, queue, limit, onAllowance), start)
}

/** claimAttempts' work in the caller's transaction (also the tail of a completion group's, completer.ts). */
export async function claimIn(trx: Kysely<Database>, boss: PgBoss, queue: string, limit: number, onAllowance?: (a: Allowance) => void): Promise<Claimed[]> {
  {
    const feature = featureOfQueue(queue)
    // Queue controls (monitoring): a paused feature claims nothing, a limited one at most its free slots.
    // A feature the last claim found open (not paused, no limit) skips that read: the rows' UPDATE
    // below checks it is still open, under the same FOR SHARE lock, and claims nothing if not.
    const open = openFeatures.has(feature)
    if (!open) {
      const allowance = await claimAllowance(trx, feature, limit)
      noteOpen(allowance)
      onAllowance?.(allowance)
      if (allowance.allowed === 0) return []
      limit = allowance.allowed
    }
    const jobs = await boss.fetch<JobData>(queue, { batchSize: limit, db: fromKysely(trx) })
    if (jobs.length === 0) return []
    const pairs = jobs.map((j) => sql`(${j.data.requestId}::uuid, ${j.id}::uuid)`)
    let update = trx.updateTable('processing_requests')
      .set((eb) => ({ status: 'processing', attempts: eb('attempts', '+', 1), started_at: sql<Date>`now()`, finished_at: null, progress: 0 }))
      .where(sql<boolean>`(id, job_id) IN (${sql.join(pairs)})`)
      .where('id', 'in', (eb) => eb.selectFrom('processing_requests').select('id')
        .where('id', 'in', jobs.map((j) => j.data.requestId)).where('status', '=', 'pending').forUpdate().skipLocked())
    if (open) update = update.where(stillOpen(feature))
    const rows = await update.returningAll().execute()
    if (open && rows.length === 0) {
      // Nothing claimed: rows locked or gone, or the feature closed (paused, limited) meanwhile. Which one,
      // the full read says; closed, every job goes back to the queue as it was.
      const allowance = await claimAllowance(trx, feature, limit)
      noteOpen(allowance)
      onAllowance?.(allowance)
      if (allowance.limited || allowance.allowed === 0) {
        await restoreFetched(boss, fromKysely(trx), queue, jobs.map((j) => j.id))
        return jobs.map((job) => ({ job, row: null, givenBack: true }))
      }
    }
    const byJob = new Map(rows.map((r) => [r.job_id, r]))
    // Started in the queue's order, oldest request first: the fetch picks the oldest jobs, but its
    // UPDATE … RETURNING hands them back in no particular order (and threads start in this order).
    const age = (j: Job<JobData>) => byJob.get(j.id)?.created_at.getTime() ?? 0
    jobs.sort((a, b) => age(a) - age(b))
    const unclaimed = jobs.filter((j) => !byJob.has(j.id))
    if (unclaimed.length === 0) return jobs.map((job) => ({ job, row: byJob.get(job.id)! }))
    // Not every row was ours. A row that is gone, or moved on (cancelled, or a newer attempt's), makes its
    // job an orphan: completed here. But a row SKIP LOCKED passed over because another transaction held
    // it (a cancel or delete on its way, any UPDATE of the row) may well stay `pending`: completing its
    // job then left a pending request with no live job until the reconciler came by. Such a job is given
    // back (restored to `created`, its retry count untouched) for the next fetch; a cancel waiting for
    // the job's lock then finds it queued and cancels it.
    const busy = await trx.selectFrom('processing_requests').select('id')
      .where(sql<boolean>`(id, job_id) IN (${sql.join(unclaimed.map((j) => sql`(${j.data.requestId}::uuid, ${j.id}::uuid)`))})`)
      .where('status', '=', 'pending').execute()
    const locked = new Set(busy.map((r) => r.id))
    const giveBack = unclaimed.filter((j) => locked.has(j.data.requestId))
    const orphans = unclaimed.filter((j) => !locked.has(j.data.requestId))
    if (giveBack.length > 0) await restoreFetched(boss, fromKysely(trx), queue, giveBack.map((j) => j.id))
    if (orphans.length > 0) await boss.complete(queue, orphans, null, { db: fromKysely(trx) })
    return jobs.map((job) => ({ job, row: byJob.get(job.id) ?? null, ...(locked.has(job.data.requestId) && !byJob.has(job.id) ? { givenBack: true } : {}) }))
  }
}

// Features whose last claim here found them open (not paused, no concurrency limit): see claimIn.
const openFeatures = new Set<string>()
const noteOpen = (a: Allowance) => { if (a.allowed > 0 && !a.limited) openFeatures.add(a.feature); else openFeatures.delete(a.feature) }
// The settings row read under FOR SHARE, as claimAllowance reads it (a feature without one is open).
const stillOpen = (feature: string) => sql<boolean>`COALESCE((
  SELECT NOT paused AND concurrency IS NULL FROM feature_settings WHERE feature = ${feature} FOR SHARE), true)`

export async function saveProgress(db: Db, requestId: string, jobId: string, percent: number): Promise<void> {
  await db.updateTable('processing_requests').set({ progress: percent })
    .where('id', '=', requestId).where('job_id', '=', jobId).where('status', '=', 'processing')
    .where('progress', '<>', percent).execute()
}

class Superseded extends Error {}

/** A successful attempt to save: its result, staged output files, and the log lines still unwritten. */
export interface Completion {
  requestId: string; job: JobAttempt; feature: string; attempt: number; result: TaskResult; stagedOutput: string; outputDir: string
  /** The job log's last lines, written first in the same transaction (rolled back with it). */
  logs: LogBatch | null
}

/**
 * Files move before the commit: if it fails, the next attempt replaces them (save is idempotent). A
 * first attempt without output files has nothing to replace. When this very save is tried again (its
 * COMMIT was cut off with the database), the files are already in place: nothing to move.
 */
async function moveOutput(c: Completion): Promise<void> {
  const movedBefore = c.result.files.length > 0 && !existsSync(c.stagedOutput) && existsSync(c.outputDir)
  if (movedBefore) return
  if (c.result.files.length > 0 || c.attempt > 1) await rm(c.outputDir, { recursive: true, force: true })
  if (c.result.files.length > 0) await rename(c.stagedOutput, c.outputDir)
}

/**
 * Save, the transactional half, for one or more successful attempts at once (completions grouped per
 * commit, completer.ts): result documents, output files and status `completed` with their jobs'
 * completions, in one transaction of a fixed number of statements whatever the group's size. Each
 * member is fenced as on its own: its row must still be `processing` under its job, and pg-boss must
 * still hold its job as active. Resolves with each member's outcome: false when the attempt no longer
 * owns the request (cancelled, deleted, or its job taken back), in which case nothing of it is written.
 * A group where a member does not hold, or whose transaction fails for another reason than the
 * database being unreachable, is rolled back and saved member by member, so that one member's trouble
 * is its own.
 */
export async function completeAttempts(db: Db, boss: PgBoss, list: Completion[], tail?: GroupTail): Promise<PromiseSettledResult<boolean>[]> {
  try {
    await saveGroup(db, boss, list, tail)
    return list.map(() => ({ status: 'fulfilled', value: true }))
  } catch (err) {
    if (isDatabaseUnavailable(err)) return list.map(() => ({ status: 'rejected', reason: err }))
    if (list.length === 1) return [err instanceof Superseded ? { status: 'fulfilled', value: false } : { status: 'rejected', reason: err }]
  }
  const outcomes: PromiseSettledResult<boolean>[] = []
  for (const c of list) {
    try {
      await saveGroup(db, boss, [c])
      outcomes.push({ status: 'fulfilled', value: true })
    } catch (err) {
      outcomes.push(err instanceof Superseded ? { status: 'fulfilled', value: false } : { status: 'rejected', reason: err })
    }
  }
  return outcomes
}

/**
 * More work for a group's transaction once its saves are done (the engine claims the next jobs for
 * the free threads there: completer.ts). It returns what to do while the COMMIT travels, with whether
 * it held, or null when it did nothing. It runs only when every member was saved; a group that falls
 * back to saving member by member does not run it.
 */
export type GroupTail = (trx: Kysely<Database>) => Promise<((committed: Promise<boolean>) => void) | null>

async function saveGroup(db: Db, boss: PgBoss, list: Completion[], tail?: GroupTail): Promise<void> {
  // Rows in one order (by id) whatever the group, as their locks are taken, to keep clear of deadlocks.
  const members = [...list].sort((a, b) => (a.requestId < b.requestId ? -1 : a.requestId > b.requestId ? 1 : 0))
  await asyncTransaction(db, async (trx) => {
    // One statement: the log's last lines (announced before the status changes, logCtes), then the rows
    // and their results; the jobs after the rows, the lock order of cancel and delete.
    const input = members.map((c) => ({ id: c.requestId, job_id: c.job.id, data: c.result.data, files: c.result.files }))
    // The lines only of rows `done` changed (and so holds): a request deleted meanwhile takes its lines with it.
    const { rows: [saved] } = await sql<{ saved: number }>`
      WITH input AS (
        SELECT * FROM jsonb_to_recordset(${JSON.stringify(input)}::jsonb) AS x(id uuid, job_id uuid, data jsonb, files jsonb)),
      done AS (
        UPDATE processing_requests p SET status = 'completed', progress = 100, finished_at = now(), error_message = NULL
          FROM input i
         WHERE p.id = i.id AND p.job_id = i.job_id AND p.status = 'processing'
        RETURNING p.id),
      ${logCtes(members.flatMap((c) => (c.logs ? [c.logs] : [])), sql`done`)},
      results AS (
        INSERT INTO processing_results (request_id, data, files)
        SELECT i.id, i.data, i.files FROM input i JOIN done USING (id)
        ON CONFLICT (request_id) DO UPDATE SET data = excluded.data, files = excluded.files, created_at = now()
        RETURNING request_id)
      SELECT (SELECT count(*) FROM results)::int AS saved, (SELECT count(*) FROM notes)::int AS lines`.execute(trx)
    if (saved?.saved !== members.length) throw new Superseded()
    const byQueue = new Map<string, Completion[]>()
    for (const c of members) byQueue.set(queueName(c.feature), [...(byQueue.get(queueName(c.feature)) ?? []), c])
    for (const [queue, of] of byQueue) {
      const done = await boss.complete(queue, of.map((c) => c.job), null, { db: fromKysely(trx) })
      if (completedCount(done) !== of.length) throw new Superseded()
    }
    for (const c of members) await moveOutput(c)
    return tail ? await tail(trx) : null
  }, (then, committed) => then?.(committed))
}

/**
 * How a failed attempt ends: `policy` retries while the feature's retry limit allows, `never` fails
 * at once (errors no retry can fix, time limit), `requeue` runs it again now (interrupted by a
 * shutdown, not the job's fault).
 */
export type FailureMode = 'policy' | 'never' | 'requeue'

/**
 * Settles a failed or lost attempt in one transaction: fails its pg-boss job (when still held) and
 * either sends the next attempt (status back to `pending`) or fails the request. Returns the new
 * status, or null when the request had already moved on.
 */
export async function settleFailure(db: Db, boss: PgBoss, a: {
  requestId: string; jobId: string; attempt: JobAttempt | null; feature: Feature; message: string; mode: FailureMode
}): Promise<RequestStatus | null> {
  return asyncTransaction(db, async (trx) => {
    const row = await trx.selectFrom('processing_requests').select(['id', 'attempts'])
      .where('id', '=', a.requestId).where('job_id', '=', a.jobId).where('status', 'in', ['pending', 'processing'])
      .forUpdate().executeTakeFirst()
    if (!row) return null
    if (a.attempt) await boss.fail(queueName(a.feature.name), a.attempt, { message: a.message }, { db: fromKysely(trx) })
    const policy = a.feature.retry ?? NO_RETRY
    // attempts counts starts; retry number n follows start number n.
    const retry = a.mode === 'requeue' || (a.mode === 'policy' && row.attempts <= policy.limit)
    const message = clip(a.message)
    if (retry) {
      const delaySeconds = a.mode === 'requeue' ? 0 : retryDelay(policy, Math.max(1, row.attempts))
      const jobId = await sendAttempt(trx, boss, a.feature.name, a.requestId, { delaySeconds })
      await trx.updateTable('processing_requests').set({ status: 'pending', job_id: jobId, progress: 0, error_message: message })
        .where('id', '=', a.requestId).execute()
      return 'pending'
    }
    await trx.updateTable('processing_requests').set({ status: 'failed', finished_at: sql<Date>`now()`, error_message: message })
      .where('id', '=', a.requestId).execute()
    return 'failed'
  })
}
