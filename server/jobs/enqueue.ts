// Creating a processing request: the row and its pg-boss job in the caller's transaction, so there is
// never a row without a job nor a job without a row. Also each feature's queue and its settings.
import { randomUUID } from 'node:crypto'
import { fromKysely, type PgBoss } from 'pg-boss'
import type { Transaction } from 'kysely'
import type { Executor } from '../../db/index.ts'
import type { Database, ProcessingRequest, UploadInfo } from '../../db/types.ts'
import type { Feature } from '../../worker/feature.ts'
import { getFeature } from '../../worker/registry.ts'
import type { Config } from '../config.ts'
import { notFound } from '../http/errors.ts'
import { validateInput } from './input.ts'

export const DEFAULT_TIME_LIMIT_SECONDS = 3600

/** One pg-boss queue per feature; each job in it is one attempt at one request. */
export const queueName = (feature: string): string => `feature.${feature}`
export const timeLimitOf = (feature: Feature): number => feature.timeLimitSeconds ?? DEFAULT_TIME_LIMIT_SECONDS

/** What a job carries: the request row is the source of truth for everything else. */
export interface JobData { requestId: string }

export function queueOptions(feature: Feature, config: Pick<Config, 'jobHeartbeatSeconds'>) {
  const limit = timeLimitOf(feature)
  return {
    // Retries are the engine's (see worker/attempts.ts): each attempt is a new job, so pg-boss never retries.
    retryLimit: 0,
    // pg-boss's own expiry is the backstop behind our time limit: slightly later, so ours always fires first.
    expireInSeconds: limit + Math.max(30, Math.ceil(limit * 0.05)),
    // The engine touches running jobs; a job silent this long belonged to a process that died.
    heartbeatSeconds: config.jobHeartbeatSeconds,
  }
}

/** Creates or updates the queue of every feature (idempotent; safe from many instances at once). */
export async function ensureQueues(boss: PgBoss, features: Feature[], config: Pick<Config, 'jobHeartbeatSeconds'>): Promise<void> {
  for (const feature of features) {
    const name = queueName(feature.name)
    const options = queueOptions(feature, config)
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

export interface NewProcessingRequest {
  ownerId: number
  feature: string
  /** Raw input: validated here against the feature's schema (400 with DRF field errors). */
  input: unknown
  scheduleId?: string | null
  idempotencyKey?: string | null
  /** Pre-generated id, when files were already stored under MEDIA_ROOT/<id>/ (create/ does this). */
  id?: string
  /** The file already stored at MEDIA_ROOT/<id>/input/<name>. */
  upload?: UploadInfo | null
  /** Multipart fields arrive as text: coerce them to the schema's types. */
  coerce?: boolean
}

/**
 * Validates and creates a processing request in `trx`, with its pg-boss job in the same transaction.
 * The caller commits; workers on every instance are woken by the row's NOTIFY at commit.
 * Throws 404 for an unknown feature, 400 for invalid input, and the database's unique violation
 * (23505) when the owner already used `idempotencyKey`.
 */
export async function enqueueRequest(trx: Transaction<Database>, boss: PgBoss, request: NewProcessingRequest): Promise<ProcessingRequest> {
  const feature = getFeature(request.feature)
  if (!feature) throw notFound()
  const input = validateInput(feature, request.input, { coerce: request.coerce, upload: request.upload ?? null })
  const id = request.id ?? randomUUID()
  const jobId = randomUUID()
  const row = await trx.insertInto('processing_requests').values({
    id,
    owner_id: request.ownerId,
    feature: feature.name,
    input: JSON.stringify(input),
    upload: request.upload ? JSON.stringify(request.upload) : null,
    job_id: jobId,
    schedule_id: request.scheduleId ?? null,
    idempotency_key: request.idempotencyKey ?? null,
  }).returningAll().executeTakeFirstOrThrow()
  await sendAttempt(trx, boss, feature.name, id, { id: jobId })
  return row
}
