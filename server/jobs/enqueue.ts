// Creating a processing request: the row and its pg-boss job in the caller's transaction, so there is
// never a row without a job nor a job without a row. Also each feature's queue and its settings.
import { randomUUID } from 'node:crypto'
import { fromKysely, type PgBoss } from 'pg-boss'
import { insertJobs, QUEUE_POLICIES } from 'pg-boss/dist/plans.js'
import { sql } from 'kysely'
import { poolOf, type Executor } from '../../db/index.ts'
import type { ProcessingRequest, UploadInfo } from '../../db/types.ts'
import type { Feature } from '../../worker/feature.ts'
import { getFeature } from '../../worker/registry.ts'
import type { Config } from '../config.ts'
import { BOSS_SCHEMA } from '../services.ts'
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
 * pg-boss's own job INSERT for `queue` (plans.insertJobs, what send() runs), with its `$1` split out so
 * it can be a CTE of our request INSERT. Null when send() would do more than that one statement (a
 * policy with its own rules, a notify queue, another schema layout): then the caller uses send().
 */
type JobInsert = { before: string; after: string; text: string; name: string } | null
const jobInserts = new WeakMap<PgBoss, Map<string, Promise<JobInsert>>>()
let statements = 0
function jobInsertOf(boss: PgBoss, queue: string): Promise<JobInsert> {
  let byQueue = jobInserts.get(boss)
  if (!byQueue) jobInserts.set(boss, (byQueue = new Map()))
  let found = byQueue.get(queue)
  if (!found) {
    found = boss.getQueue(queue).then((q) => {
      const { table, policy, notify } = (q ?? {}) as { table?: string; policy?: string; notify?: boolean }
      if (!q || !table || notify || (policy && policy !== QUEUE_POLICIES.standard)) return null
      const text = insertJobs(BOSS_SCHEMA, { table, name: queue, returnId: true, notify: false })
      const parts = text.split('$1')
      if (parts.length !== 2) return null
      const [before, after] = parts as [string, string]
      return { before, after, text: createStatement(`${before}$9${after}`), name: `conveyor_enqueue_${++statements}` }
    })
    found.catch(() => byQueue.delete(queue))
    byQueue.set(queue, found)
  }
  return found
}

/**
 * The request INSERT with pg-boss's job INSERT as a CTE: one statement, so one round trip and one
 * commit. The job CTE runs whether or not it is read; the division fails the statement (nothing
 * commits) should its ON CONFLICT DO NOTHING ever skip the job: never a row without its job.
 */
const createStatement = (job: string) => `
  WITH job AS (${job}),
  req AS (
    INSERT INTO processing_requests (id, owner_id, feature, input, upload, job_id, schedule_id, idempotency_key)
    VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6, $7, $8)
    RETURNING *)
  SELECT req.* FROM req WHERE 1 / (SELECT count(*) FROM job) = 1`

/**
 * Validates and creates a processing request with its pg-boss job, atomically: on the pool (`db`) as
 * ONE statement (the request INSERT with pg-boss's job INSERT as a CTE: one round trip, one commit),
 * or inside the caller's transaction. Workers on every instance are woken by the row's NOTIFY at commit.
 * Throws 404 for an unknown feature, 400 for invalid input, and the database's unique violation
 * (23505) when the owner already used `idempotencyKey`.
 */
export async function enqueueRequest(db: Executor, boss: PgBoss, request: NewProcessingRequest): Promise<ProcessingRequest> {
  const feature = getFeature(request.feature)
  if (!feature) throw notFound()
  const input = validateInput(feature, request.input, { coerce: request.coerce, upload: request.upload ?? null })
  const id = request.id ?? randomUUID()
  const jobId = randomUUID()
  const values = {
    id,
    owner_id: request.ownerId,
    feature: feature.name,
    input: JSON.stringify(input),
    upload: request.upload ? JSON.stringify(request.upload) : null,
    job_id: jobId,
    schedule_id: request.scheduleId ?? null,
    idempotency_key: request.idempotencyKey ?? null,
  }
  const jobInsert = await jobInsertOf(boss, queueName(feature.name))
  if (!jobInsert) {
    if (!db.isTransaction) return db.transaction().execute((trx) => enqueueRequest(trx, boss, request))
    const row = await db.insertInto('processing_requests').values(values).returningAll().executeTakeFirstOrThrow()
    await sendAttempt(db, boss, feature.name, id, { id: jobId })
    return row
  }
  // send()'s payload for {id} (Attorney.checkSendArgs + toJobPayload); the queue supplies the rest.
  const job = JSON.stringify([{ id: jobId, data: { requestId: id } satisfies JobData, priority: 0, singletonKey: null, singletonOffset: 0, groupId: null, groupTier: null, deadLetter: null }])
  const params = [values.id, values.owner_id, values.feature, values.input, values.upload, values.job_id, values.schedule_id, values.idempotency_key, job]
  // On the pool: a named statement, parsed and planned once per connection.
  const pool = poolOf(db)
  if (pool) return (await pool.query<ProcessingRequest>({ name: jobInsert.name, text: jobInsert.text, values: params })).rows[0]!
  // In a transaction (or without a registered pool): the same statement through Kysely.
  const pieces = jobInsert.text.split(/\$(\d)/)
  const query = sql.join(pieces.map((piece, i) => (i % 2 === 0 ? sql.raw(piece) : sql`${params[Number(piece) - 1]}`)), sql.raw(''))
  const { rows } = await sql<ProcessingRequest>`${query}`.execute(db)
  return rows[0]!
}
