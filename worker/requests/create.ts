// Creating a processing request: the row and its pg-boss job in the caller's transaction, so there is
// never a row without a job nor a job without a row. What create/ and a schedule tick both call.
import { randomUUID } from 'node:crypto'
import type { PgBoss } from 'pg-boss'
import { sql } from 'kysely'
import { poolOf, type Executor } from '../../db/index.ts'
import type { ProcessingRequest, UploadInfo } from '../../db/types.ts'
import { NotFoundError } from '../errors.ts'
import { getFeature } from '../features/registry.ts'
import { jobInsertOf, jobPayload } from '../queue/job-insert.ts'
import { queueName, sendAttempt, type JobData } from '../queue/queues.ts'
import { validateInput } from './input.ts'

export interface NewProcessingRequest {
  ownerId: number
  feature: string
  /** Raw input: validated here against the feature's schema (InputError with DRF field messages). */
  input: unknown
  scheduleId?: string | null
  idempotencyKey?: string | null
  /** Pre-generated id, when files were already stored under MEDIA_ROOT/<id>/ (create/ does this). */
  id?: string
  /** The file already stored at MEDIA_ROOT/<id>/input/<name>. */
  upload?: UploadInfo | null
  /** Multipart fields arrive as text: coerce them to the schema's types. */
  coerce?: boolean
  /** Use pg-boss's public send() even where the one-statement adapter applies (bench/create-path.ts). */
  publicApiOnly?: boolean
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

// The statement text and its name per queue: the same text gets the same name on every connection.
const statements = new Map<string, { name: string; text: string }>()
function statementFor(queue: string, jobSql: string) {
  let s = statements.get(queue)
  if (!s) statements.set(queue, (s = { name: `conveyor_create_${statements.size + 1}`, text: createStatement(jobSql) }))
  return s
}

/**
 * Validates and creates a processing request with its pg-boss job, atomically: on the pool (`db`) as
 * ONE statement, or inside the caller's transaction. Workers on every instance are woken by the
 * row's NOTIFY at commit. Throws NotFoundError for an unknown feature, InputError for invalid
 * input, and the database's unique violation (23505) when the owner already used `idempotencyKey`.
 */
export async function createRequest(db: Executor, boss: PgBoss, request: NewProcessingRequest): Promise<ProcessingRequest> {
  const feature = getFeature(request.feature)
  if (!feature) throw new NotFoundError()
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
  const queue = queueName(feature.name)
  const jobInsert = request.publicApiOnly ? null : await jobInsertOf(boss, queue)
  if (!jobInsert) {
    // The public path: our INSERT and send() in one transaction.
    const insert = async (trx: Executor) => {
      const row = await trx.insertInto('processing_requests').values(values).returningAll().executeTakeFirstOrThrow()
      await sendAttempt(trx, boss, feature.name, id, { id: jobId })
      return row
    }
    return db.isTransaction ? insert(db) : db.transaction().execute(insert)
  }
  const statement = statementFor(queue, jobInsert.sql('$9'))
  const params = [values.id, values.owner_id, values.feature, values.input, values.upload, values.job_id, values.schedule_id,
    values.idempotency_key, jobPayload(jobId, { requestId: id } satisfies JobData)]
  // On the pool: a named statement, parsed and planned once per connection.
  const pool = poolOf(db)
  if (pool) return (await pool.query<ProcessingRequest>({ name: statement.name, text: statement.text, values: params })).rows[0]!
  // In a transaction: the same statement through Kysely.
  const pieces = statement.text.split(/\$(\d)/)
  const query = sql.join(pieces.map((piece, i) => (i % 2 === 0 ? sql.raw(piece) : sql`${params[Number(piece) - 1]}`)), sql.raw(''))
  const { rows } = await sql<ProcessingRequest>`${query}`.execute(db)
  return rows[0]!
}
