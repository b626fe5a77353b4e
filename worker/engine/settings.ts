// What the job engine needs to know, and nothing more: server/ passes these from its configuration.
import type { QueueSettings } from '../queue/queues.ts'

export interface EngineSettings extends QueueSettings {
  /** Worker threads in the pool. */
  workerThreads: number
  /** Old-generation heap limit of each thread: a thread past it fails its own job only. */
  workerMemoryLimitMb: number
  /** Extra feature files (absolute paths or URLs) next to the built-in ones. */
  featureModules: string[]
  /** Root of every request's files. */
  mediaRoot: string
  /** How long a cancelled job's thread may take to stop on its own before it is terminated. */
  jobCancelGraceSeconds: number
  /** About how long a short job claimed ahead of busy threads may wait for one (0: claim only for free threads; threads/pool.ts). */
  jobAheadMs: number
  /** How long stop() lets running jobs finish before they are sent back for retry. */
  shutdownGraceSeconds: number
  /** How often running jobs are touched; default half of jobHeartbeatSeconds. Tests shorten it to widen races. */
  heartbeatIntervalMs?: number
}
