// A fixed pool of worker threads, reused between jobs. A thread that dies (throw, exit, out of memory)
// or that we terminate (time limit, cancel grace, shutdown) answers for its own job only and is replaced.
//
// Short jobs are taken ahead: for a feature whose attempts take a few milliseconds, the pool accepts
// more tasks than it has threads, held here and started on the first thread that frees up, as many
// as would be done within about `aheadMs` (JOB_AHEAD_MS, 10 by default; at most AHEAD_MAX_PER_THREAD
// per thread). Without it a
// thread sat idle for every job's save-and-claim transaction (five round trips around ~0.3 ms of
// work), which bound a 2-thread engine by latency, not CPU; with it a completion group saves and
// claims several jobs per thread at once. A feature not yet measured, or a slower one, is never taken
// ahead, so a CSV profile's jobs still wait in the queue, where any instance's free thread can claim
// them.
import { Worker } from 'node:worker_threads'
import type { Logger } from 'pino'
import { featuresOf, moduleOf } from '../features/registry.ts'
import type { FromThread, Phase, SerializedError, Task, TaskResult, ThreadData } from './protocol.ts'
import { moduleUrl } from '../../db/source.ts'

export type Outcome =
  /** `madeDirs`: the thread made the attempt's folders (false: there is nothing on disk to remove). */
  | { kind: 'done'; result: TaskResult; madeDirs: boolean }
  | { kind: 'failed'; phase: Phase; error: SerializedError; aborted: boolean; madeDirs: boolean }
  | { kind: 'crashed'; message: string }
  | { kind: 'terminated'; reason: string }

export interface RunningTask {
  outcome: Promise<Outcome>
  /** Resolves when a thread has the task (at once, unless it was taken ahead); never, if it ended first. */
  started: Promise<void>
  /** Asks the thread to abort (the task's AbortSignal); it answers `failed` with `aborted: true`. */
  cancel(reason: string): void
  /** Kills the thread now; the task's outcome is `terminated` with this reason. */
  terminate(reason: string): void
}

interface TaskState {
  requestId: string; feature: string; resolve(o: Outcome): void; onProgress(p: number): void; onLog: LogListener
  terminated: string | null; error: Error | null
  /** performance.now() when a thread got it. */
  since: number
}

interface Slot {
  worker: Worker
  ready: boolean
  task: TaskState | null
}

/** A task taken ahead, waiting for a thread. */
interface Waiting { state: TaskState; start(slot: Slot): void }

/** Tasks taken ahead per thread at most (a bound on a claim's and a completion group's size). */
const AHEAD_MAX_PER_THREAD = 8
/** Weight of the latest attempt in a feature's average duration. */
const AVERAGE_WEIGHT = 0.2

/** A log line of the running task (ctx.log in a phase). */
export type LogListener = (line: { level: 'info' | 'warn' | 'error'; message: string; at: string }) => void

let live = 0
/** Worker threads of every pool in this process that have not exited yet (for leak checks). */
export const liveThreads = (): number => live

const THREAD_URL = moduleUrl('./thread.ts', import.meta.url)
// How long a terminated thread may take to exit before it is replaced without waiting (see terminate).
const TERMINATE_WAIT_MS = 2_000

export interface PoolOptions {
  size: number
  featureModules: string[]
  databaseUrl: string
  mediaRoot: string
  memoryLimitMb: number
  /** About how long a task taken ahead may expect to wait for a thread; 0: none is taken ahead. */
  aheadMs: number
  log: Logger
  /** Called whenever a thread becomes free (finished a task, or a replacement became ready). */
  onIdle(): void
}

export class ThreadPool {
  readonly #options: PoolOptions
  readonly #slots: Slot[] = []
  readonly #waiting: Waiting[] = []
  /** Feature → moving average of its attempts' durations in a thread (ms), from those that answered. */
  readonly #durations = new Map<string, number>()
  #stopping = false

  readonly #data: ThreadData

  constructor(options: PoolOptions) {
    this.#options = options
    // Modules whose every feature is `system` (maintenance, run a few times a day) are loaded by a
    // thread on their first job: they are what needs the database client (kysely + pg, about 14 MB
    // per thread), which a thread that runs only ordinary features then never loads.
    const onDemand: Record<string, string> = {}
    const loaded = featuresOf(options.featureModules)
    for (const href of options.featureModules) {
      const own = loaded.filter((f) => moduleOf(f.name) === href)
      if (own.length > 0 && own.every((f) => f.system)) for (const f of own) onDemand[f.name] = href
    }
    const onDemandModules = new Set(Object.values(onDemand))
    this.#data = {
      featureModules: options.featureModules.filter((href) => !onDemandModules.has(href)),
      onDemand, databaseUrl: options.databaseUrl, mediaRoot: options.mediaRoot,
    }
  }

  /** Starts every thread; rejects if one cannot load the features. */
  async start(): Promise<void> {
    await Promise.all(Array.from({ length: this.#options.size }, () => this.#spawn()))
  }

  get size(): number { return this.#slots.length }
  get idle(): number { return this.#stopping ? 0 : this.#slots.filter((s) => s.ready && !s.task).length }
  get busy(): number { return this.#slots.filter((s) => s.task).length }
  /** Tasks taken ahead, waiting for a thread. */
  get waiting(): number { return this.#waiting.length }
  /**
   * Tasks of `feature` that `run` accepts now: the idle threads, and for a feature whose attempts
   * take a few milliseconds as many ahead as each thread that is idle or about to be (running such a
   * job) would finish within `aheadMs`, less the tasks already waiting.
   */
  available(feature: string): number {
    if (this.#stopping) return 0
    const now = performance.now()
    let idle = 0
    let endingSoon = 0
    for (const s of this.#slots) {
      if (s.ready && !s.task) idle++
      else if (s.task && this.#aheadPerThread(s.task.feature) > 0 && now - s.task.since < this.#options.aheadMs) endingSoon++
    }
    return idle + Math.max(0, this.#aheadPerThread(feature) * (idle + endingSoon) - this.#waiting.length)
  }

  /** Tasks of `feature` one thread may have waiting: its attempts' average duration into `aheadMs`. */
  #aheadPerThread(feature: string): number {
    const average = this.#durations.get(feature)
    if (average === undefined) return 0
    return Math.min(AHEAD_MAX_PER_THREAD, Math.floor(this.#options.aheadMs / Math.max(average, 0.1)))
  }

  /**
   * Runs `task` on an idle thread, or on the first to free up: the caller claimed it by `available`,
   * which may have changed during the claim's round trips (a job ran long), and a claimed job is
   * never turned away here.
   */
  run(task: Task, onProgress: (percent: number) => void, onLog: LogListener = () => {}): RunningTask {
    if (this.#stopping) throw new Error('The thread pool is stopping')
    const idle = this.#slots.find((s) => s.ready && !s.task)
    let resolve!: (o: Outcome) => void
    const outcome = new Promise<Outcome>((r) => { resolve = r })
    let started!: () => void
    const startedP = new Promise<void>((r) => { started = r })
    const state: TaskState = {
      requestId: task.requestId, feature: task.feature, resolve, onProgress, onLog, terminated: null, error: null, since: 0,
    }
    let slot: Slot | null = null
    const start = (s: Slot) => {
      slot = s
      state.since = performance.now()
      s.task = state
      s.worker.postMessage({ type: 'run', task })
      started()
    }
    const waiting: Waiting = { state, start }
    // Taken ahead and not started yet: ends here, without a thread.
    const dequeue = (o: Outcome): boolean => {
      const i = this.#waiting.indexOf(waiting)
      if (i < 0) return false
      this.#waiting.splice(i, 1)
      resolve(o)
      return true
    }
    if (idle) start(idle)
    else this.#waiting.push(waiting)
    return {
      outcome,
      started: startedP,
      cancel: (reason) => {
        if (dequeue({ kind: 'failed', phase: 'validate', error: { name: 'AbortError', message: reason }, aborted: true, madeDirs: false })) return
        if (slot?.task === state) slot.worker.postMessage({ type: 'cancel', requestId: task.requestId, reason })
      },
      terminate: (reason) => {
        if (dequeue({ kind: 'terminated', reason })) return
        const slot_ = slot
        if (!slot_ || slot_.task !== state || state.terminated) return
        state.terminated = reason
        const worker = slot_.worker
        void worker.terminate()
        // A thread blocked in native code (a synchronous child process, a native addon) stops only when
        // that call returns, which may be never: if it has not exited by then, its job is answered
        // anyway and the slot gets a new thread, while the old one is left to exit when it can.
        setTimeout(() => {
          if (slot_.worker !== worker || slot_.task !== state) return
          this.#options.log.warn({ requestId: task.requestId }, 'a terminated worker thread is stuck in native code: replaced, left to exit on its own')
          this.#abandon(slot_)
          state.resolve({ kind: 'terminated', reason })
        }, TERMINATE_WAIT_MS).unref()
      },
    }
  }

  /** A thread is free (its task answered, or it is new): it takes the next waiting task, if any. */
  #freed(slot: Slot): void {
    const next = this.#stopping ? undefined : this.#waiting.shift()
    if (next) next.start(slot)
    this.#options.onIdle()
  }

  /** Terminates every thread (running tasks end `terminated: shutdown`) and waits for them to exit. */
  async stop(): Promise<void> {
    this.#stopping = true
    for (const w of this.#waiting.splice(0)) w.state.resolve({ kind: 'terminated', reason: 'shutdown' })
    await Promise.all(this.#slots.map(async (slot) => {
      if (slot.task && !slot.task.terminated) slot.task.terminated = 'shutdown'
      // Not for ever: a thread stuck in native code exits when that call returns (or with the process).
      const exited = slot.worker.terminate()
      await Promise.race([exited, new Promise((r) => setTimeout(r, TERMINATE_WAIT_MS).unref())])
    }))
  }

  /** Gives the slot a new thread; the old one's events are ignored from now on. */
  #abandon(slot: Slot): void {
    slot.task = null
    slot.ready = false
    if (this.#stopping) return
    const respawn = (): void => {
      this.#spawn(slot).catch((err: Error) => {
        this.#options.log.error({ err }, 'worker thread replacement failed; retrying in 1 s')
        if (!this.#stopping) setTimeout(respawn, 1000).unref()
      })
    }
    respawn()
  }

  #spawn(existing?: Slot): Promise<void> {
    const worker = new Worker(THREAD_URL, {
      workerData: this.#data,
      name: 'conveyor-job',
      resourceLimits: { maxOldGenerationSizeMb: this.#options.memoryLimitMb },
    })
    live++
    const slot: Slot = existing ?? { worker, ready: false, task: null }
    Object.assign(slot, { worker, ready: false, task: null })
    if (!existing) this.#slots.push(slot)
    return new Promise<void>((resolveStart, rejectStart) => {
      worker.on('message', (message: FromThread) => {
        if (slot.worker !== worker) return // an abandoned thread
        if (message.type === 'ready') {
          slot.ready = true
          resolveStart()
          this.#freed(slot)
        } else if (message.type === 'progress') {
          if (slot.task?.requestId === message.requestId) slot.task.onProgress(message.percent)
        } else if (message.type === 'log') {
          if (slot.task?.requestId === message.requestId) slot.task.onLog(message)
        } else if (slot.task?.requestId === message.requestId && !slot.task.terminated) {
          const task = slot.task
          slot.task = null
          const took = performance.now() - task.since
          const average = this.#durations.get(task.feature)
          this.#durations.set(task.feature, average === undefined ? took : average + AVERAGE_WEIGHT * (took - average))
          task.resolve(message.type === 'done'
            ? { kind: 'done', result: message.result, madeDirs: message.madeDirs }
            : { kind: 'failed', phase: message.phase, error: message.error, aborted: message.aborted, madeDirs: message.madeDirs })
          this.#freed(slot)
        }
      })
      worker.on('error', (err) => {
        if (slot.worker !== worker) return
        if (slot.task) slot.task.error = err
        else if (slot.ready) this.#options.log.error({ err }, 'idle worker thread failed')
        if (!slot.ready) rejectStart(new Error(`A worker thread failed to start: ${err.message}`, { cause: err }))
      })
      worker.on('exit', (code) => {
        live--
        if (slot.worker !== worker) return
        const task = slot.task
        slot.task = null
        slot.ready = false
        if (task) task.resolve(task.terminated ? { kind: 'terminated', reason: task.terminated } : { kind: 'crashed', message: this.#crashMessage(task.error, code) })
        // Replace the thread; a replacement that cannot start is retried after a pause, not in a loop.
        this.#abandon(slot)
      })
    })
  }

  #crashMessage(err: Error | null, code: number): string {
    if ((err as { code?: string } | null)?.code === 'ERR_WORKER_OUT_OF_MEMORY') {
      return `The worker thread ran out of memory (limit ${this.#options.memoryLimitMb} MB).`
    }
    if (err) return `The worker thread crashed: ${err.message}`
    return `The worker thread exited unexpectedly (exit code ${code}).`
  }
}
