// A fixed pool of worker threads, reused between jobs. A thread that dies (throw, exit, out of memory)
// or that we terminate (time limit, cancel grace, shutdown) answers for its own job only and is replaced.
import { Worker } from 'node:worker_threads'
import type { Logger } from 'pino'
import { featuresOf, moduleOf } from '../features/registry.ts'
import type { FromThread, Phase, SerializedError, Task, TaskResult, ThreadData } from './protocol.ts'
import { moduleUrl } from '../../db/source.ts'

export type Outcome =
  | { kind: 'done'; result: TaskResult }
  | { kind: 'failed'; phase: Phase; error: SerializedError; aborted: boolean }
  | { kind: 'crashed'; message: string }
  | { kind: 'terminated'; reason: string }

export interface RunningTask {
  outcome: Promise<Outcome>
  /** Asks the thread to abort (the task's AbortSignal); it answers `failed` with `aborted: true`. */
  cancel(reason: string): void
  /** Kills the thread now; the task's outcome is `terminated` with this reason. */
  terminate(reason: string): void
}

interface Slot {
  worker: Worker
  ready: boolean
  task: {
    requestId: string; resolve(o: Outcome): void; onProgress(p: number): void; onLog: LogListener; terminated: string | null; error: Error | null
  } | null
}

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
  log: Logger
  /** Called whenever a thread becomes free (finished a task, or a replacement became ready). */
  onIdle(): void
}

export class ThreadPool {
  readonly #options: PoolOptions
  readonly #slots: Slot[] = []
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

  run(task: Task, onProgress: (percent: number) => void, onLog: LogListener = () => {}): RunningTask {
    const slot = this.#slots.find((s) => s.ready && !s.task)
    if (!slot || this.#stopping) throw new Error('No idle thread')
    let resolve!: (o: Outcome) => void
    const outcome = new Promise<Outcome>((r) => { resolve = r })
    const state = { requestId: task.requestId, resolve, onProgress, onLog, terminated: null as string | null, error: null as Error | null }
    slot.task = state
    slot.worker.postMessage({ type: 'run', task })
    return {
      outcome,
      cancel: (reason) => { if (slot.task === state) slot.worker.postMessage({ type: 'cancel', requestId: task.requestId, reason }) },
      terminate: (reason) => {
        if (slot.task !== state || state.terminated) return
        state.terminated = reason
        const worker = slot.worker
        void worker.terminate()
        // A thread blocked in native code (a synchronous child process, a native addon) stops only when
        // that call returns, which may be never: if it has not exited by then, its job is answered
        // anyway and the slot gets a new thread, while the old one is left to exit when it can.
        setTimeout(() => {
          if (slot.worker !== worker || slot.task !== state) return
          this.#options.log.warn({ requestId: task.requestId }, 'a terminated worker thread is stuck in native code: replaced, left to exit on its own')
          this.#abandon(slot)
          state.resolve({ kind: 'terminated', reason })
        }, TERMINATE_WAIT_MS).unref()
      },
    }
  }

  /** Terminates every thread (running tasks end `terminated: shutdown`) and waits for them to exit. */
  async stop(): Promise<void> {
    this.#stopping = true
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
          this.#options.onIdle()
        } else if (message.type === 'progress') {
          if (slot.task?.requestId === message.requestId) slot.task.onProgress(message.percent)
        } else if (message.type === 'log') {
          if (slot.task?.requestId === message.requestId) slot.task.onLog(message)
        } else if (slot.task?.requestId === message.requestId && !slot.task.terminated) {
          const task = slot.task
          slot.task = null
          task.resolve(message.type === 'done'
            ? { kind: 'done', result: message.result }
            : { kind: 'failed', phase: message.phase, error: message.error, aborted: message.aborted })
          this.#options.onIdle()
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
