// The messages that cross the worker-thread boundary, typed in both directions.
//
// (The glossary of request, feature, job, phase, thread and engine is at the top of worker/index.ts.)
//
// Only plain JSON crosses: the thread never sees pg-boss or the request's owner, and ordinary
// features never see the database (only `system` features get the thread's own small pool).
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
  /** A line of the job log (ctx.log): `at` is when the phase wrote it, ISO 8601. */
  | { type: 'log'; requestId: string; level: 'info' | 'warn' | 'error'; message: string; at: string }
  /** `madeDirs`: the attempt's folders (workDir, outputDir) were made; if not, there is nothing to remove. */
  | { type: 'done'; requestId: string; result: TaskResult; madeDirs: boolean }
  | { type: 'failed'; requestId: string; phase: Phase; error: SerializedError; aborted: boolean; madeDirs: boolean }

/** Initial data of every thread (workerData). */
export interface ThreadData {
  /** Loaded when the thread starts. */
  featureModules: string[]
  /** Feature name → module, loaded on the feature's first job (modules of `system` features only). */
  onDemand: Record<string, string>
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
