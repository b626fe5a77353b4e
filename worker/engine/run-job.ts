// One claimed job, end to end on the main thread: start the attempt, run the four phases in a thread
// under the time limit, then settle: complete, retry, fail, or leave it to whoever owns it now.
import { rm } from 'node:fs/promises'
import path from 'node:path'
import type { Job, PgBoss } from 'pg-boss'
import type { Logger } from 'pino'
import { isDatabaseUnavailable, type Db } from '../../db/index.ts'
import type { ProcessingRequest } from '../../db/types.ts'
import type { Feature } from '../features/api.ts'
import { getFeature } from '../features/registry.ts'
import { timeLimitOf, type JobData } from '../queue/queues.ts'
import { attemptDir, inputDir, outputDir, removeRequestFiles } from '../requests/media.ts'
import type { Outcome, RunningTask, ThreadPool } from '../threads/pool.ts'
import type { Task } from '../threads/protocol.ts'
import type { JobMetrics } from '../metrics.ts'
import { saveProgress, settleFailure, type FailureMode } from './attempts.ts'
import type { Completer } from './completer.ts'
import { logWriter, type LogBatch } from './job-log.ts'
import type { EngineSettings } from './settings.ts'

export type StopReason = 'cancelled' | 'shutdown' | 'lost'

/** A job this engine holds, from claim to settlement. */
export interface ActiveJob {
  requestId: string
  queue: string
  job: { id: string; retryCount: number }
  /**
   * The claim's COMMIT has been acknowledged. Threads start while it is on its way; until it lands,
   * another connection still sees the job `created`, so the heartbeat must not touch it yet (a touch
   * that misses it would take it for lost).
   */
  claimed: boolean
  /** Why the engine stopped it, if it did. */
  stop: StopReason | null
  abort(reason: StopReason): void
}

export interface RunDeps {
  db: Db
  boss: PgBoss
  config: EngineSettings
  log: Logger
  pool: ThreadPool
  metrics: JobMetrics
  /** Saves successful attempts, grouped per commit. */
  completer: Completer
  hooks?: EngineHooks
}

/** Points where the fault tests stop a process on purpose (nothing else sets them). */
export interface EngineHooks {
  /** Right after a completion committed, before the attempt's folder is removed. */
  afterCommit?(requestId: string): Promise<void>
}

/** settleFailure, counted once it committed: `retried` when a next attempt was sent, else `failed`. */
async function failAttempt(deps: RunDeps, a: Parameters<typeof settleFailure>[2]): Promise<void> {
  const status = await settleFailure(deps.db, deps.boss, a)
  if (status === 'pending') deps.metrics.job(a.feature.name, 'retried')
  else if (status === 'failed') deps.metrics.job(a.feature.name, 'failed')
}

const PROGRESS_INTERVAL_MS = 1000
const PHASE_NAMES = { validate: 'Validate', process: 'Process', save: 'Save', cleanup: 'Cleanup' } as const

/**
 * Progress writes throttled to about one per second per job, the latest value always written; the
 * first one a second after the start, so a job shorter than that writes none.
 */
function progressWriter(deps: RunDeps, requestId: string, jobId: string) {
  let last = Date.now()
  let pending: number | null = null
  let timer: NodeJS.Timeout | null = null
  let closed = false
  const write = () => {
    timer = null
    if (pending === null || closed) return
    const p = pending
    pending = null
    last = Date.now()
    saveProgress(deps.db, requestId, jobId, p).catch((err) => deps.log.warn({ err, requestId }, 'progress write failed'))
  }
  return {
    report(percent: number) {
      pending = Math.min(99, percent) // 100 is written with `completed`, in the same transaction
      if (timer || closed) return
      timer = setTimeout(write, Math.max(0, last + PROGRESS_INTERVAL_MS - Date.now()))
    },
    close() {
      closed = true
      if (timer) clearTimeout(timer)
    },
  }
}

/**
 * Runs a claimed `job` (its request `row` marked processing by a claim whose commit is `committed`)
 * on the thread reserved for it, and settles it. `release` gives the reservation back once the thread
 * is taken; `active` is kept up to date for cancels and heartbeats.
 */
export async function runJob(deps: RunDeps, queue: string, job: Job<JobData>, row: ProcessingRequest, committed: Promise<boolean>,
  release: () => void, active: Map<string, ActiveJob>): Promise<void> {
  const { db, config, log, pool } = deps
  const requestId = job.data.requestId
  const startedAt = performance.now()
  let task: RunningTask | null = null
  let graceTimer: NodeJS.Timeout | null = null
  const entry: ActiveJob = {
    requestId, queue, job: { id: job.id, retryCount: job.retryCount }, claimed: false, stop: null,
    abort(reason) {
      if (entry.stop) return
      entry.stop = reason
      if (task) stopTask()
    },
  }
  // Ask nicely first; terminate the thread if it does not stop within the grace period.
  const stopTask = () => {
    task!.cancel(entry.stop === 'cancelled' ? 'Cancelled.' : 'Stopping.')
    graceTimer = setTimeout(() => task!.terminate(entry.stop!), config.jobCancelGraceSeconds * 1000)
  }
  active.set(requestId, entry)
  // The claim did not commit: the job is not ours, whatever the thread makes of it.
  void committed.then((ok) => { if (ok) entry.claimed = true; else entry.abort('lost') })
  let attemptRoot: string | null = null
  let feature: Feature | undefined
  let released = false
  // The thread said it made none of the attempt's folders: there is nothing to remove, and no rm (one
  // of a missing folder costs ~50 µs of CPU with its threadpool round; a short job's whole share of the
  // engine is ~0.5 ms). Not known (a thread lost or terminated, its cleanup run here): removed.
  let noDirs = false
  const releaseOnce = () => { if (!released) { released = true; release() } }
  try {
    feature = getFeature(row.feature)!
    // Each claim has its own attempt number, so this folder is new: no stale files to clear first.
    attemptRoot = attemptDir(config.mediaRoot, requestId, row.attempts)
    const staged = path.join(attemptRoot, 'output')
    const progress = progressWriter(deps, requestId, job.id)
    const lines = logWriter(db, log, requestId, row.attempts)
    const spec: Task = {
      requestId, feature: feature.name, attempt: row.attempts, input: row.input,
      inputFile: row.upload ? { ...row.upload, path: path.join(inputDir(config.mediaRoot, requestId), row.upload.name) } : null,
      workDir: path.join(attemptRoot, 'work'), outputDir: staged,
    }
    task = pool.run(spec, progress.report, (line) => lines.add(line.level, line.message, line.at))
    releaseOnce()
    if (entry.stop) stopTask()
    const limit = timeLimitOf(feature)
    let timedOut = false
    // The limit counts from the thread's start: a job taken ahead (pool.ts) waits for one first.
    let limitTimer: NodeJS.Timeout | undefined
    let ended = false
    void task.started.then(() => {
      if (!ended) limitTimer = setTimeout(() => { timedOut = true; task!.terminate('time limit') }, limit * 1000)
    })
    const outcome = await task.outcome
    ended = true
    noDirs = (outcome.kind === 'done' || outcome.kind === 'failed') && !outcome.madeDirs
    await committed // nothing is settled before the claim itself is
    clearTimeout(limitTimer)
    if (graceTimer) clearTimeout(graceTimer)
    progress.close()
    // The log's last lines are stored (and announced) before the status that ends the stream: in the
    // completion's own transaction when the attempt succeeded, else now.
    const lastLines = outcome.kind === 'done' && !entry.stop ? await lines.drain() : (await lines.flush(), null)
    if (outcome.kind !== 'done' && outcome.kind !== 'failed') await runCleanupOnMain(feature, spec, config.mediaRoot, log)
    const f = feature
    await whileUnreachable(() => settle(deps, { requestId, queue, entry, feature: f, outcome, timedOut, limit, staged, attempt: row.attempts, lastLines }), entry, log)
  } catch (err) {
    log.error({ err, requestId }, 'job failed in the engine')
    // Before the row was read there is nothing to settle here: the reconciler will find the job.
    if (feature) {
      await failAttempt(deps, { requestId, jobId: job.id, attempt: entry.job, feature, message: 'Internal error in the job engine.', mode: 'policy' })
        .catch((e) => log.error({ err: e, requestId }, 'could not settle a failed job'))
    }
  } finally {
    releaseOnce()
    active.delete(requestId)
    if (feature) deps.metrics.attemptSeconds(feature.name, (performance.now() - startedAt) / 1000)
    if (entry.stop === 'cancelled') await removeRequestFiles(config.mediaRoot, requestId).catch(() => {})
    else if (attemptRoot && !noDirs) await rm(attemptRoot, { recursive: true, force: true }).catch(() => {})
    // A retry after a crash: the folders of the earlier attempts, which their process could not remove.
    for (let n = 1; attemptRoot && n < row.attempts; n++) await rm(attemptDir(config.mediaRoot, requestId, n), { recursive: true, force: true }).catch(() => {})
  }
}

const SETTLE_RETRY_MAX_MS = 5_000
const SETTLE_GIVE_UP_MS = 10 * 60_000

/**
 * Runs a settlement again, with backoff, for as long as the database is unreachable (a restart, a
 * failover): the job's outcome is known and every settlement is fenced and idempotent, so waiting
 * beats leaving it to the reconciler after the heartbeat expires (fault tolerance, issue 14). The
 * heartbeat keeps the claim fresh meanwhile. Gives up on shutdown or after ten minutes; then the
 * reconciler settles it.
 */
async function whileUnreachable<T>(fn: () => Promise<T>, entry: ActiveJob, log: Logger): Promise<T> {
  const started = Date.now()
  for (let delay = 250, tries = 1; ; delay = Math.min(delay * 2, SETTLE_RETRY_MAX_MS), tries++) {
    try {
      return await fn()
    } catch (err) {
      if (!isDatabaseUnavailable(err) || entry.stop === 'shutdown' || Date.now() - started > SETTLE_GIVE_UP_MS) throw err
      if (tries === 1) log.warn({ requestId: entry.requestId, err: (err as Error).message }, 'database unreachable: the job\'s outcome is kept until it is back')
      await new Promise((r) => setTimeout(r, delay))
    }
  }
}

async function settle(deps: RunDeps, s: {
  requestId: string; queue: string; entry: ActiveJob; feature: Feature; outcome: Outcome; timedOut: boolean; limit: number; staged: string; attempt: number
  lastLines: LogBatch | null
}): Promise<void> {
  const { config, log } = deps
  const { requestId, entry, feature, outcome } = s
  // Cancelled: the row and job were settled by the cancel itself. Lost: someone else owns it now.
  if (entry.stop === 'cancelled' || entry.stop === 'lost') return
  const fail = (message: string, mode: FailureMode) =>
    failAttempt(deps, { requestId, jobId: entry.job.id, attempt: entry.job, feature, message, mode })
  // A job that finished just as a stop or the time limit came keeps its result.
  if (outcome.kind !== 'done' && entry.stop === 'shutdown') {
    await fail('Interrupted by a shutdown; it will run again.', 'requeue')
  } else if (outcome.kind === 'terminated' && s.timedOut) {
    await fail(`Time limit exceeded (${s.limit} s)`, 'never')
  } else if (outcome.kind === 'done') {
    const ok = await deps.completer.complete({
      requestId, job: entry.job, feature: feature.name, attempt: s.attempt, result: outcome.result, stagedOutput: s.staged,
      outputDir: outputDir(config.mediaRoot, requestId), logs: s.lastLines,
    })
    // Counted only now that the completion committed (the completer resolves after COMMIT).
    if (ok) {
      deps.metrics.job(feature.name, 'completed')
      await deps.hooks?.afterCommit?.(requestId)
    } else log.info({ requestId }, 'result discarded: the request was cancelled or taken over meanwhile')
  } else if (outcome.kind === 'failed') {
    const permanent = outcome.error.name === 'JobError'
    const message = permanent ? outcome.error.message : `${PHASE_NAMES[outcome.phase]} failed: ${outcome.error.message}`
    if (!permanent) log.warn({ requestId, phase: outcome.phase, err: outcome.error }, 'job phase failed')
    await fail(message, permanent ? 'never' : 'policy')
  } else {
    log.warn({ requestId, outcome }, 'worker thread lost its job')
    await fail(outcome.kind === 'crashed' ? outcome.message : `The worker thread was terminated (${outcome.reason}).`, 'policy')
  }
}

/** The thread died before its cleanup phase could run: run the feature's cleanup here, best effort. */
async function runCleanupOnMain(feature: Feature, spec: Task, mediaRoot: string, log: Logger): Promise<void> {
  if (!feature.cleanup) return
  try {
    await feature.cleanup({ ...spec, signal: AbortSignal.abort(), progress: () => {}, log: () => {}, db: null, mediaRoot })
  } catch (err) {
    log.warn({ err, requestId: spec.requestId }, 'cleanup after a lost thread failed')
  }
}
