// The features' pg-boss queues: one queue per feature, each job one attempt at one request.
import { randomUUID } from 'node:crypto'
import { fromKysely, type PgBoss } from 'pg-boss'
import type { Executor } from '../../db/index.ts'
import type { Feature } from '../features/api.ts'

export const DEFAULT_TIME_LIMIT_SECONDS = 3600

/** One pg-boss queue per feature; each job in it is one attempt at one request. */
export const queueName = (feature: string): string => `feature.${feature}`
export const featureOfQueue = (queue: string): string => queue.slice('feature.'.length)
export const timeLimitOf = (feature: Feature): number => feature.timeLimitSeconds ?? DEFAULT_TIME_LIMIT_SECONDS

/** What a job carries: the request row is the source of truth for everything else. */
export interface JobData { requestId: string }

export interface QueueSettings {
  /** A running job's heartbeat; a job silent this long belonged to a process that died. */
  jobHeartbeatSeconds: number
}

export function queueOptions(feature: Feature, settings: QueueSettings) {
  const limit = timeLimitOf(feature)
  return {
    // Retries are the engine's (see worker/engine/attempts.ts): each attempt is a new job, so pg-boss never retries.
    retryLimit: 0,
    // pg-boss's own expiry is the backstop behind our time limit: slightly later, so ours always fires first.
    expireInSeconds: limit + Math.max(30, Math.ceil(limit * 0.05)),
    // The engine touches running jobs; a job silent this long belonged to a process that died.
    heartbeatSeconds: settings.jobHeartbeatSeconds,
  }
}

/** Creates or updates the queue of every feature (idempotent; safe from many instances at once). */
export async function ensureQueues(boss: PgBoss, features: Feature[], settings: QueueSettings): Promise<void> {
  for (const feature of features) {
    const name = queueName(feature.name)
    const options = queueOptions(feature, settings)
    const existing = await boss.getQueue(name)
    if (!existing) await boss.createQueue(name, options)
    else if (existing.expireInSeconds !== options.expireInSeconds || existing.heartbeatSeconds !== options.heartbeatSeconds || existing.retryLimit !== 0) {
      await boss.updateQueue(name, options)
    }
  }
}

/** Sends the job of one attempt, inside `trx`; returns its id. */
export async function sendAttempt(trx: Executor, boss: PgBoss, feature: string, requestId: string, options: { id?: string; delaySeconds?: number } = {}): Promise<string> {
  const id = options.id ?? randomUUID()
  const data: JobData = { requestId }
  await boss.send(queueName(feature), data, {
    id,
    ...(options.delaySeconds ? { startAfter: Math.ceil(options.delaySeconds) } : {}),
    db: fromKysely(trx),
  })
  return id
}
