// Gives a V8 isolate's memory back once it has gone quiet after a burst of work.
//
// Why (BENCHMARKS.md, "Memory and start-up"): after 12,000 jobs the process held about twice its idle
// PSS, and 30 s later still did. None of it was live: one full GC brought the main thread's heap
// from 120 MB used to 32 MB, and a memory-reducing GC (V8's "last resort" flavour, which also
// releases the pages V8 keeps pooled) brought the whole process back to its idle PSS. V8 has a
// memory reducer for exactly this, but in Node it keeps judging the allocation rate "high" from the
// samples of the burst and never runs (seen with --trace-memory-reducer), and Node offers no public
// call for what a browser does there (a memory-pressure or background notification). So each
// isolate — the main thread and every job thread — watches itself: once its event loop has been
// idle (busy under 3 % of the time, and no request or task started) for 3 s in a row and its
// heap had grown by `growthMb` since the last reclaim, it runs that GC once. The GC takes ~40 ms on
// a job thread and ~90 ms on the main thread after a burst, so "idle" is strict: with 5 % and 2 s,
// 100 jobs run one after the other met it and their p99 went from ~20 to 50–80 ms (measured). An
// idle main thread is busy ~0.4–1.6 % of the time (timers, heartbeats, pg-boss), a job thread 0.1 %.
//
// The one place that reaches past Node's documented surface (DESIGN.md, Layers): V8's gc() is
// fetched at run time — the flag set, a new context made, the flag unset — not with --expose-gc on
// the command line, because that flag changes V8's flag hash and so makes every worker thread
// recompile Node's internal modules instead of using their code cache (measured: a thread's start
// 62 → 113 ms). test/deploy/reclaim.test.ts proves that this gc() gives the pages back.
import { getHeapStatistics, setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

/** V8's gc() as `--expose-gc` installs it. */
type ExposedGc = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void

/** This isolate's gc(): the global one if the process was started with --expose-gc, else fetched. */
function v8Gc(): ExposedGc | null {
  const global = (globalThis as { gc?: ExposedGc }).gc
  if (typeof global === 'function') return global
  try {
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as unknown
    return typeof gc === 'function' ? gc as ExposedGc : null
  } catch {
    return null
  } finally {
    setFlagsFromString('--no-expose-gc')
  }
}

export interface ReclaimOptions {
  /** How often the loop is sampled. */
  intervalMs?: number
  /** Samples in a row with the loop busy less than `idleUtilization` of the time. */
  quietTicks?: number
  idleUtilization?: number
  /**
   * A count of the isolate's units of work (a job thread: tasks started); a sample in which it
   * moved is never quiet, however little the loop was busy. A thread running a short job every
   * few milliseconds is below any useful utilisation threshold, yet a GC then delays its next job.
   */
  activity?: () => number
  /** Heap growth (peak committed size over the size after the last reclaim) worth a GC. */
  growthMb?: number
  /** Told after each reclaim (the main thread logs it at debug level). */
  onReclaim?(event: { beforeMb: number; afterMb: number; ms: number }): void
}

const MB = 1024 * 1024
const committed = (): number => getHeapStatistics().total_heap_size

/**
 * Starts watching this isolate; returns a stop function, or null if V8 would not hand out its gc().
 * The timer is unref'd: it never keeps a process alive.
 */
export function reclaimWhenIdle(options: ReclaimOptions = {}): (() => void) | null {
  const gc = v8Gc()
  if (!gc) return null
  const { intervalMs = 1000, quietTicks = 3, idleUtilization = 0.03, growthMb = 8, onReclaim, activity = () => 0 } = options
  // Zero at first: what start-up left (compiled modules' garbage, the migrations' work) goes at
  // the first quiet moment too.
  let floor = 0
  let peak = committed()
  let quiet = 0
  let last = performance.eventLoopUtilization()
  let worked = activity()
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization()
    const busy = performance.eventLoopUtilization(now, last).utilization
    last = now
    const work = activity()
    peak = Math.max(peak, committed())
    quiet = busy < idleUtilization && work === worked ? quiet + 1 : 0
    worked = work
    // The peak, not the current size: pages a regular GC gave back to V8's pool are still held.
    if (quiet < quietTicks || peak - floor < growthMb * MB) return
    const started = performance.now()
    const before = peak
    gc({ type: 'major', execution: 'sync', flavor: 'last-resort' })
    floor = peak = committed()
    quiet = 0
    // The GC's own time is not the loop's idleness: sample from here.
    last = performance.eventLoopUtilization()
    onReclaim?.({ beforeMb: Math.round(before / MB), afterMb: Math.round(floor / MB), ms: Math.round(performance.now() - started) })
  }, intervalMs)
  timer.unref()
  return () => clearInterval(timer)
}
