// The job engine: claims jobs from the features' pg-boss queues when a thread is free (or about to
// be), runs them in the worker-thread pool, heartbeats what it holds, recovers lost attempts, stops
// cleanly.
//
// Why our own claim loop (boss.fetch) instead of boss.work(): work() runs per queue, so a pool shared
// by N feature queues would either claim up to N×threads jobs (the extra ones waiting in memory while
// their expiry clock runs and other instances could have run them) or idle threads. Here a job is
// claimed only for a free thread, or, for a feature whose jobs take a few milliseconds, a few ahead
// of the threads (pool.ts `available`: about 10 ms of waiting, so the next short job starts without
// waiting for the last one's save), and the loop fetches again the moment a thread frees up, so
// there is no polling sleep between jobs. It fetches only the queues that may hold work: one a create named
// (in-process signal for a local create, the requests table's NOTIFY for any instance's, on the
// process's one listener connection), or one whose last fetch came back full; every queue on the 2 s
// backstop poll (delayed retries, missed notifications).
import type { Logger } from 'pino'
import type { PgBoss } from 'pg-boss'
import { createDb, type Db } from '../../db/index.ts'
import { preparedDb } from '../../db/prepared.ts'
import { featuresOf, loadFeatures, moduleUrls } from '../features/registry.ts'
import { ensureQueues, featureOfQueue, queueName } from '../queue/queues.ts'
import { NO_METRICS, type JobMetrics } from '../metrics.ts'
import { ensureFeatureSettings } from '../monitoring/feature-settings.ts'
import { acquireRequestEvents, onLocalEnqueue } from '../requests/events.ts'
import { isTerminal } from '../requests/repository.ts'
import { ThreadPool } from '../threads/pool.ts'
import { claimAttempts, claimIn, type Claimed, type GroupTail } from './attempts.ts'
import { startCompleter } from './completer.ts'
import { startInstanceHeartbeat } from './instances.ts'
import { reconcile } from './reconcile.ts'
import { runJob, type ActiveJob, type EngineHooks } from './run-job.ts'
import { sweepMedia } from './sweep.ts'
import type { EngineSettings } from './settings.ts'

export interface EngineDeps {
  db: Db
  boss: PgBoss
  log: Logger
  /** The database actually used: the threads of `system` features open their own small pool on it. */
  databaseUrl: string
  /**
   * When given, the engine opens a pool of its own, of this many connections, instead of using `db`'s
   * (closed when it stops): for an engine sharing its process with the API, whose queries would
   * otherwise queue ahead of every claim and save once a burst of requests fills the shared pool.
   */
  poolSize?: number
  settings: EngineSettings
  /** The instance's metrics (server/plugins/metrics.ts); none when not given. */
  metrics?: JobMetrics
  /** How this instance announces itself in `instances` (monitoring): its role. Default `worker`. */
  role?: string
  /** Fault tests only: where to stop a process on purpose. */
  hooks?: EngineHooks
}

export interface Engine {
  stop(): Promise<void>
  /** Fetch now (after a local enqueue; NOTIFY does this across instances). */
  wake(): void
  /** Threads, those running a job, jobs held (claimed, not yet settled), and jobs taken ahead waiting for a thread. */
  stats(): { threads: number; busy: number; active: number; waiting: number }
}

const POLL_MS = 2000
const GIVE_BACK_RETRY_MS = 50
const SWEEP_MS = 60 * 60_000

export async function startEngine(services: EngineDeps): Promise<Engine> {
  const own = services.poolSize ? createDb(services.databaseUrl, { max: services.poolSize, applicationName: 'conveyor-engine' }) : null
  if (!own) return startOn(services, services.db)
  try {
    const engine = await startOn(services, own)
    let stopped: Promise<void> | undefined
    return { ...engine, stop: () => (stopped ??= engine.stop().finally(() => own.destroy())) }
  } catch (err) {
    await own.destroy()
    throw err
  }
}

async function startOn(services: EngineDeps, pooled: Db): Promise<Engine> {
  const { settings: config, log, boss } = services
  // The engine's statements are a fixed set run for every job: named, so parsed and planned once per connection.
  const db = preparedDb(pooled) ?? pooled
  const urls = moduleUrls(config.featureModules)
  await loadFeatures(urls)
  const features = featuresOf(urls)
  await ensureQueues(boss, features, config)
  // Every feature has its settings row, so every claim has one to lock (gate.ts).
  await ensureFeatureSettings(db, features.map((f) => f.name))
  const queues = features.map((f) => queueName(f.name))
  const metrics = services.metrics ?? NO_METRICS

  const active = new Map<string, ActiveJob>()
  const running = new Set<Promise<void>>()
  let reserved = 0
  let stopping = false
  let signalled = false
  let wakeUp: (() => void) | null = null
  const wake = () => {
    signalled = true
    wakeUp?.()
  }
  /** Resolves true when woken, false when the backstop poll came due. */
  const sleep = (ms: number) => new Promise<boolean>((resolve) => {
    if (signalled || stopping) return resolve(true)
    const timer = setTimeout(() => done(false), ms)
    function done(woken: boolean) { clearTimeout(timer); wakeUp = null; resolve(woken) }
    wakeUp = () => done(true)
  })
  // Queues that may hold runnable jobs, in the order to fetch them (a full batch goes to the back).
  const pending = new Set(queues)
  const known = new Set(queues)
  const hint = (feature: string) => {
    const queue = queueName(feature)
    if (!known.has(queue)) return
    pending.add(queue)
    wake()
  }
  // Features with a concurrency limit, as the last claim saw them: any instance finishing an attempt of
  // one frees a slot, so its terminal status (NOTIFY) sends us to fetch it again.
  const limited = new Set<string>()

  const pool = new ThreadPool({
    size: config.workerThreads, featureModules: urls, databaseUrl: services.databaseUrl, mediaRoot: config.mediaRoot,
    memoryLimitMb: config.workerMemoryLimitMb, aheadMs: config.jobAheadMs, log, onIdle: wake,
  })
  try {
    await pool.start()
  } catch (err) {
    await pool.stop()
    throw err
  }
  const live = await acquireRequestEvents(boss, log)
  // Requests this instance's creates announced in-process: their queue is already marked, so their
  // NOTIFY (a moment later) is no reason to fetch again. Under a stream of creates that the engine
  // keeps up with, that second fetch found nothing every time: four statements per job for nothing.
  // Any event of a request takes it out: its NOTIFY can also be heard before its create's caller
  // announces it (under load, ~7,000 of 12,000 ids stayed here until the cap cleared them all),
  // and then its claim's or its end's event does.
  const announced = new Set<string>()
  const ANNOUNCED_MAX = 10_000 // a NOTIFY never heard (listener reconnecting) must not grow it for ever
  const unsubscribe = [
    onLocalEnqueue((feature, requestId) => {
      if (requestId) {
        if (announced.size >= ANNOUNCED_MAX) announced.clear()
        announced.add(requestId)
      }
      hint(feature)
    }),
    live.events.onEvent((event) => {
      const ours = announced.delete(event.id)
      if (event.status === 'pending') {
        if (!ours) hint(event.feature)
      } else if (event.status === 'cancelled') active.get(event.id)?.abort('cancelled')
      if (isTerminal(event.status) && limited.has(event.feature)) hint(event.feature)
    }),
    // A resume or a changed limit (any instance's): look at that queue now.
    live.events.onSettings((s) => hint(s.feature)),
    // Notifications may have been missed while the listener reconnected: look again.
    live.events.onResync(() => {
      queues.forEach((q) => pending.add(q))
      wake()
      void checkCancelled()
    }),
  ]

  async function checkCancelled(): Promise<void> {
    const ids = [...active.keys()]
    if (ids.length === 0) return
    const rows = await db.selectFrom('processing_requests').select('id').where('id', 'in', ids).where('status', '=', 'cancelled').execute()
      .catch(() => [])
    for (const { id } of rows) active.get(id)?.abort('cancelled')
  }

  metrics.threads(() => ({ size: pool.size, busy: pool.busy }))
  const instance = await startInstanceHeartbeat(db, log, { role: services.role ?? 'worker', stats: () => ({ threads: pool.size, busy: pool.busy }) })
  const noteAllowance = (a: { feature: string; limited: boolean }) => { if (a.limited) limited.add(a.feature); else limited.delete(a.feature) }

  /** Runs claimed jobs (called while the claim's COMMIT travels; `committed` says whether it held). */
  const launch = (queue: string, claimed: Claimed[], committed: Promise<boolean>) => {
    for (const { job, row } of claimed) {
      if (!row) continue // cancelled or deleted before it started: settled by the claim
      reserved++
      let released = false
      const release = () => { if (!released) { released = true; reserved-- } }
      const p = runJob(deps, queue, job, row, committed, release, active).finally(() => { running.delete(p); instance.changed() })
      running.add(p)
      instance.changed()
    }
  }
  /** After a claim of up to `free` jobs of `queue`: is there more to fetch, now or shortly? */
  const afterClaim = (queue: string, jobs: Claimed[], free: number) => {
    if (jobs.length === free) pending.add(queue) // a full batch: there may be more
    // A job given back because its row was locked is fetched again shortly, not at once (whoever holds
    // the row, most often a cancel, gets through first) and not only at the next backstop poll.
    else if (jobs.some((c) => c.givenBack)) setTimeout(() => { pending.add(queue); wake() }, GIVE_BACK_RETRY_MS).unref()
  }

  // Under load, the next jobs are claimed in the transaction that saves the last ones (a completion
  // group's tail): one pending queue, for the threads free at that moment. Their reservation is taken
  // before the claim and handed to the jobs as they launch, so a claim made meanwhile by the loop
  // below cannot count the same threads.
  /** Jobs of `queue` that one claim may take now: threads free for it, less those already reserved. */
  const freeFor = (queue: string) => pool.available(featureOfQueue(queue)) - reserved
  const claimWithSaves: GroupTail = async (trx) => {
    const queue = [...pending].find((q) => freeFor(q) > 0)
    if (stopping || !queue) return null
    const free = freeFor(queue)
    pending.delete(queue)
    reserved += free
    let jobs: Claimed[]
    try {
      jobs = await claimIn(trx, boss, queue, free, noteAllowance)
    } catch (err) {
      reserved -= free
      pending.add(queue)
      throw err // the group is rolled back and saved member by member; the loop claims again
    }
    afterClaim(queue, jobs, free)
    return (committed) => {
      launch(queue, jobs, committed)
      reserved -= free
    }
  }
  const completer = startCompleter(db, boss, { tail: claimWithSaves, onIdle: wake })
  const deps = { db, boss, config, log, pool, metrics, completer, hooks: services.hooks }

  async function claimLoop(): Promise<void> {
    while (!stopping) {
      signalled = false
      let failed = false
      let claimed = false
      for (const queue of [...pending]) {
        // While saves are on their way, their group claims for the free threads (and wakes us when done).
        if (stopping || completer.busy()) break
        const free = freeFor(queue)
        if (free <= 0) continue
        pending.delete(queue)
        claimed = true
        let jobs: Claimed[]
        // Reserved for the claim's length, then handed to the jobs as they launch (as in claimWithSaves).
        let held = free
        reserved += held
        const unreserve = () => { reserved -= held; held = 0 }
        try {
          jobs = await claimAttempts(db, boss, queue, free, (claimed, committed) => { launch(queue, claimed, committed); unreserve() }, noteAllowance)
        } catch (err) {
          log.error({ err, queue }, 'claim failed')
          pending.add(queue)
          failed = true
          break
        } finally {
          unreserve()
        }
        afterClaim(queue, jobs, free)
      }
      // Sleep until woken (a create, a free thread, saves done) or the backstop poll, which looks at every queue.
      if (failed || !claimed || pending.size === 0 || completer.busy()) {
        if (!(await sleep(POLL_MS))) queues.forEach((q) => pending.add(q))
      }
    }
  }

  // Heartbeat: keeps our jobs' claims fresh; a job we hold that pg-boss no longer counts as ours was
  // cancelled or taken back, so its thread is stopped.
  async function heartbeat(): Promise<void> {
    const byQueue = new Map<string, ActiveJob[]>()
    // Only claims whose COMMIT was acknowledged (fault tolerance, issue 14): a touch whose snapshot
    // predates the claim's commit sees the job still `created`, leaves it out of `settled`, and the
    // job was taken for lost: its thread stopped, its row left `processing` and its job `active` until
    // the heartbeat expired and the reconciler retried it (~30 s later, "recovered a lost attempt").
    for (const a of active.values()) if (a.claimed) byQueue.set(a.queue, [...(byQueue.get(a.queue) ?? []), a])
    for (const [queue, jobs] of byQueue) {
      try {
        const res = await boss.touch(queue, jobs.map((a) => a.job)) as { settled?: string[] }
        if (!res.settled) continue
        const held = new Set(res.settled)
        for (const a of jobs) if (!held.has(a.job.id) && active.get(a.requestId) === a) a.abort('lost')
      } catch (err) {
        log.warn({ err, queue }, 'heartbeat failed')
      }
    }
  }
  const recover = () => reconcile(db, boss, log, features.map((f) => f.name), 100, metrics).catch((err) => { log.error({ err }, 'reconciliation failed'); return 0 })

  await recover()
  // Files of attempts a killed process could not remove: at start-up (after a crash) and hourly.
  const sweep = () => sweepMedia(db, config.mediaRoot, log).catch((err) => { log.warn({ err }, 'media sweep failed'); return 0 })
  await sweep()
  const heartbeatMs = config.heartbeatIntervalMs ?? (config.jobHeartbeatSeconds * 1000) / 2
  const timers = [
    setInterval(() => void heartbeat(), heartbeatMs),
    setInterval(() => void recover(), Math.max(5000, (config.jobHeartbeatSeconds * 1000) / 2)),
    setInterval(() => void sweep(), SWEEP_MS).unref(),
  ]
  const loop = claimLoop()

  let stopped: Promise<void> | undefined
  return {
    wake,
    stats: () => ({ threads: pool.size, busy: pool.busy, active: active.size, waiting: pool.waiting }),
    stop() {
      stopped ??= (async () => {
        stopping = true
        wake()
        await loop
        // Let running jobs finish within the grace period (still heartbeating, still cancellable);
        // then stop them, and they are requeued for another engine.
        const grace = new Promise<void>((r) => setTimeout(r, config.shutdownGraceSeconds * 1000).unref())
        await Promise.race([Promise.allSettled([...running]), grace])
        for (const a of active.values()) a.abort('shutdown')
        await Promise.allSettled([...running])
        unsubscribe.forEach((u) => u())
        timers.forEach(clearInterval)
        await instance.stop()
        await pool.stop()
        await live.release()
        log.info('job engine stopped')
      })()
      return stopped
    },
  }
}
