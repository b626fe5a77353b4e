// The messages that cross the worker-thread boundary, typed in both directions.
//
// Glossary
//   request  A user's processing request: one row in processing_requests (id, owner, input, status…).
//   feature  A kind of work (`text-stats`, `csv-profile`): one file under worker/features/ with an
//            input schema, limits and the four phase functions.
//   job      One pg-boss job in the feature's queue: one *attempt* at a request. A retry is a new job.
//   phase    validate → process → save → cleanup, run in that order inside a thread; cleanup always.
//   thread   A Node worker thread of the pool. It runs one job at a time, and many jobs in its life;
//            a thread that crashes, runs out of memory or is terminated is replaced.
//   engine   The main-thread side (worker/index.ts): claims jobs from pg-boss when a thread is free,
//            hands them to threads, writes every status change and result to the database.
//
// Only plain JSON crosses: the thread never sees the database, pg-boss or the request's owner.
// Errors are serialised by hand, because `code` (and the class) are lost crossing the port.

export type Phase = 'validate' | 'process' | 'save' | 'cleanup'

export interface SerializedError {
  name: string
  message: string
  code?: string
  stack?: string
}

/** Everything a thread needs to run one job. */
export interface Task {
  requestId: string
  feature: string
  attempt: number
  input: Record<string, unknown>
  inputFile: { path: string; name: string; size: number; content_type: string } | null
  workDir: string
  outputDir: string
}

export interface TaskResult {
  data: unknown
  files: { name: string; size: number; content_type: string }[]
}

/** Main thread → thread. */
export type ToThread =
  | { type: 'run'; task: Task }
  | { type: 'cancel'; requestId: string; reason: string }

/** Thread → main thread. Exactly one `done` or `failed` answers each `run`. */
export type FromThread =
  | { type: 'ready' }
  | { type: 'progress'; requestId: string; percent: number }
  | { type: 'done'; requestId: string; result: TaskResult }
  | { type: 'failed'; requestId: string; phase: Phase; error: SerializedError; aborted: boolean }

/** Initial data of every thread (workerData). */
export interface ThreadData {
  featureModules: string[]
  /** For `system` features' own pool (see JobContext.db); ordinary features never connect. */
  databaseUrl: string
  mediaRoot: string
}

export function serializeError(err: unknown): SerializedError {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    return {
      name: err.name,
      message: err.message,
      ...(typeof code === 'string' ? { code } : {}),
      ...(err.stack ? { stack: err.stack } : {}),
    }
  }
  return { name: 'Error', message: typeof err === 'string' ? err : JSON.stringify(err) ?? String(err) }
}
