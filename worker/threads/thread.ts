// Worker-thread entry: loads the features, then runs one task at a time through the four phases.
// It imports nothing from server/; results go back as messages, and only `system` features get a
// database pool (the thread's own, two connections), opened on their first job. Those features'
// modules and the database client are imported then too (ThreadData.onDemand): each thread is
// its own V8 isolate, so what it imports at start it holds in memory for its whole life.
import { mkdirSync } from 'node:fs'
import { setPriority } from 'node:os'
import { readdir, stat } from 'node:fs/promises'
import path from 'node:path'
import { parentPort, workerData } from 'node:worker_threads'
import type { Kysely } from 'kysely'
import type { Database } from '../../db/types.ts'
import { JobError, type Feature, type JobContext } from '../features/api.ts'
import { getFeature, loadFeatures } from '../features/registry.ts'
import { clipLine } from './log-line.ts'
import { reclaimWhenIdle } from './reclaim.ts'
import { serializeError, type FromThread, type Phase, type Task, type TaskResult, type ThreadData, type ToThread } from './protocol.ts'

const port = parentPort!
const settings = workerData as ThreadData
// Opened on the first `system` feature's job and kept for the thread's life (two connections).
let systemDb: Promise<Kysely<Database>> | null = null
const dbFor = (feature: { system?: boolean } | undefined) => feature?.system
  ? (systemDb ??= import('../../db/index.ts').then(({ createDb }) => createDb(settings.databaseUrl, { max: 2, applicationName: 'conveyor-thread' })))
  : null
/** The task's feature, its module imported first if it is one loaded on demand. */
async function featureFor(name: string): Promise<Feature | undefined> {
  const href = settings.onDemand[name]
  if (!getFeature(name) && href) await loadFeatures([href])
  return getFeature(name)
}
const post = (message: FromThread) => port.postMessage(message)
const running = new Map<string, AbortController>()

const CONTENT_TYPES: Record<string, string> = {
  '.csv': 'text/csv', '.json': 'application/json', '.txt': 'text/plain', '.html': 'text/html', '.md': 'text/markdown',
}

async function listOutputs(dir: string, declared: Record<string, string> = {}): Promise<TaskResult['files']> {
  const entries = await readdir(dir, { withFileTypes: true })
  const files: TaskResult['files'] = []
  for (const entry of entries.filter((e) => e.isFile()).sort((a, b) => a.name.localeCompare(b.name))) {
    const { size } = await stat(path.join(dir, entry.name))
    const type = declared[entry.name] ?? CONTENT_TYPES[path.extname(entry.name).toLowerCase()] ?? 'application/octet-stream'
    files.push({ name: entry.name, size, content_type: type })
  }
  return files
}

/** Progress as messages: only when the whole percent changes, at most every 100 ms (and 100 at once). */
function progressReporter(requestId: string): (percent: number) => void {
  let last = -1
  let at = 0
  return (percent) => {
    const p = Math.max(0, Math.min(100, Math.floor(percent)))
    const now = Date.now()
    if (p === last || (p < 100 && now - at < 100)) return
    last = p
    at = now
    post({ type: 'progress', requestId, percent: p })
  }
}

/** A directory made on first use: most jobs never touch the disk, and then cost no file-system call. */
function lazyDir(dir: string): { get(): string; made: boolean } {
  const d = {
    made: false,
    get() {
      if (!d.made) mkdirSync(dir, { recursive: true })
      d.made = true
      return dir
    },
  }
  return d
}

let tasksStarted = 0
async function run(task: Task): Promise<void> {
  tasksStarted++
  const controller = new AbortController()
  running.set(task.requestId, controller)
  // Before the first phase, as a failure of it: an on-demand module (or the database client) that cannot load.
  let feature: Feature | undefined
  let db: Kysely<Database> | null = null
  let loadError: unknown = null
  try {
    feature = await featureFor(task.feature)
    db = await dbFor(feature)
  } catch (err) {
    loadError = err
  }
  const workDir = lazyDir(task.workDir)
  const outputDir = lazyDir(task.outputDir)
  const ctx: JobContext = {
    requestId: task.requestId, feature: task.feature, attempt: task.attempt, inputFile: task.inputFile,
    get workDir() { return workDir.get() },
    get outputDir() { return outputDir.get() },
    signal: controller.signal, progress: progressReporter(task.requestId),
    // Clipped here already, so a huge line does not cross the port; the engine bounds the count.
    log: (message, level = 'info') => post({ type: 'log', requestId: task.requestId, level, message: clipLine(String(message)), at: new Date().toISOString() }),
    db, mediaRoot: settings.mediaRoot,
  }
  let phase: Phase = 'validate'
  let outcome: FromThread | undefined
  try {
    if (loadError) throw loadError
    if (!feature) throw new JobError(`Unknown feature "${task.feature}".`)
    const valid = await feature.validate(task.input, ctx)
    controller.signal.throwIfAborted()
    phase = 'process'
    const output = await feature.process(valid, ctx)
    controller.signal.throwIfAborted()
    phase = 'save'
    const saved = await feature.save(output, ctx)
    controller.signal.throwIfAborted()
    // The document goes into jsonb: normalise it to plain JSON here, where a bad value names its feature.
    const data = JSON.parse(JSON.stringify(saved.data ?? null)) as unknown
    const files = outputDir.made ? await listOutputs(task.outputDir, saved.contentTypes) : []
    outcome = { type: 'done', requestId: task.requestId, result: { data, files }, madeDirs: false }
  } catch (err) {
    outcome = { type: 'failed', requestId: task.requestId, phase, error: serializeError(err), aborted: controller.signal.aborted, madeDirs: false }
  }
  try {
    await feature?.cleanup?.(ctx)
  } catch (err) {
    // A cleanup failure fails a job that had otherwise succeeded; an earlier failure is the better report.
    if (outcome.type === 'done') outcome = { type: 'failed', requestId: task.requestId, phase: 'cleanup', error: serializeError(err), aborted: false, madeDirs: false }
  }
  running.delete(task.requestId)
  // Read after the cleanup phase, which may have used them too.
  outcome.madeDirs = workDir.made || outputDir.made
  post(outcome)
}

port.on('message', (message: ToThread) => {
  if (message.type === 'run') void run(message.task)
  else if (message.type === 'cancel') running.get(message.requestId)?.abort(new Error(message.reason))
})

// Below the main thread's priority: on a busy machine the API's event loop is served first, and the
// jobs take what is left (on Linux this applies to this thread only). Best effort.
try {
  setPriority(10)
} catch {
  // not permitted here: run at normal priority
}
await loadFeatures(settings.featureModules)
// This isolate's heap, given back once the thread has been idle a while after a burst (reclaim.ts).
reclaimWhenIdle({ activity: () => tasksStarted })
post({ type: 'ready' })
