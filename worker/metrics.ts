// What the job system reports to the instance's metrics (Prometheus lives in server/plugins/metrics.ts:
// worker/ never imports server/, so it is given this small interface instead). Every call is made
// after the transition it counts has COMMITTED: a rolled-back completion counts nothing.

export type JobOutcome = 'created' | 'completed' | 'failed' | 'cancelled' | 'retried'

export interface JobMetrics {
  /** A request's transition, counted once its transaction committed. */
  job(feature: string, outcome: JobOutcome): void
  /** One attempt, from its claim to its settlement. */
  attemptSeconds(feature: string, seconds: number): void
  /** The engine's thread pool, read at scrape time (the last engine registered wins). */
  threads(read: () => { size: number; busy: number }): void
}

/** For callers without an instance registry (one-shot scripts). */
export const NO_METRICS: JobMetrics = { job() {}, attemptSeconds() {}, threads() {} }
