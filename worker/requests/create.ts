// Creating a processing request: the row and its pg-boss job in the caller's transaction, so there is
// never a row without a job nor a job without a row. What create/ and a schedule tick both call.
import { randomUUID } from 'node:crypto'
import type pg from 'pg'
import type { PgBoss } from 'pg-boss'
import { sql } from 'kysely'
import { poolOf, type Executor } from '../../db/index.ts'
import type { ProcessingRequest, UploadInfo } from '../../db/types.ts'
import { NotFoundError } from '../errors.ts'
import { getFeature } from '../features/registry.ts'
import { jobInsertOf, jobsPayload } from '../queue/job-insert.ts'
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
 * The requests' INSERT with pg-boss's job INSERT as a CTE: one statement for one request or several
 * (`$1` the requests, `$2` their jobs, both JSON arrays), so one round trip and one commit. The job
 * CTE runs whether or not it is read; the division fails the statement (nothing commits) should its
 * ON CONFLICT DO NOTHING ever skip a job: never a row without its job.
 */
const createStatement = (job: string) => `
  WITH input AS (
    SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(
      id uuid, owner_id integer, feature text, input jsonb, upload jsonb, job_id uuid, schedule_id uuid, idempotency_key text)),
  job AS (${job}),
  req AS (
    INSERT INTO processing_requests (id, owner_id, feature, input, upload, job_id, schedule_id, idempotency_key)
    SELECT id, owner_id, feature, input, upload, job_id, schedule_id, idempotency_key FROM input
    RETURNING *)
  SELECT req.* FROM req WHERE 1 / (CASE WHEN (SELECT count(*) FROM job) = (SELECT count(*) FROM input) THEN 1 ELSE 0 END) = 1`

// The statement text and its name per queue: the same text gets the same name on every connection.
const statements = new Map<string, { name: string; text: string }>()
function statementFor(queue: string, jobSql: string) {
  let s = statements.get(queue)
  if (!s) statements.set(queue, (s = { name: `conveyor_create_${statements.size + 1}`, text: createStatement(jobSql) }))
  return s
}

/** One request's row, as the statement's `$1` holds it. */
interface NewRow {
  id: string; owner_id: number; feature: string; input: unknown; upload: UploadInfo | null; job_id: string
  schedule_id: string | null; idempotency_key: string | null
}

/** The statement's parameters for these rows, each given with its JSON text. */
const params = (rows: { row: NewRow; json: string }[]) =>
  [`[${rows.map((r) => r.json).join(',')}]`, jobsPayload(rows.map(({ row }) => ({ id: row.job_id, data: { requestId: row.id } satisfies JobData })))]

/** Requests of one group at most, and their JSON at most (a large input goes alone or with few): bounds on a statement's size. */
const MAX_GROUP = 64
const MAX_GROUP_BYTES = 1 << 20

interface Waiting { row: NewRow; json: string; resolve(row: ProcessingRequest): void; reject(err: unknown): void }

/** The first waiting creates that fit in one group (at least one). */
function takeGroup(waiting: Waiting[]): Waiting[] {
  let n = 1
  for (let size = waiting[0]!.json.length; n < waiting.length && n < MAX_GROUP && (size += waiting[n]!.json.length) <= MAX_GROUP_BYTES;) n++
  return waiting.splice(0, n)
}

interface Queue { waiting: Waiting[]; running: boolean; drain(): Promise<void> }
const queues = new WeakMap<pg.Pool, Map<string, Queue>>()
let groups = 0
let members = 0

/** Create statements sent so far, and the creates they carried (the tests watch the grouping with it). */
export const createGroupStats = (): { groups: number; members: number } => ({ groups, members })

/**
 * Creates on the pool are grouped per statement, as the engine's completions are per commit
 * (worker/engine/completer.ts): a create finding no statement of its queue in flight is sent at once
 * (an idle instance adds no wait); one arriving meanwhile joins the next group, sent as soon as the
 * one in flight is answered. Under a burst the statements, round trips and commits (each a WAL
 * flush) per create fall with the group's size; each request still commits with its own job. A
 * group whose statement fails (an idempotency key taken, a deleted owner) is sent again member by
 * member, so that one request's error is its own and the others are created.
 */
function createOnPool(pool: pg.Pool, queue: string, statement: { name: string; text: string }, row: NewRow): Promise<ProcessingRequest> {
  let byQueue = queues.get(pool)
  if (!byQueue) queues.set(pool, (byQueue = new Map()))
  let q = byQueue.get(queue)
  if (!q) byQueue.set(queue, (q = groupsOf(pool, statement)))
  const state = q
  return new Promise<ProcessingRequest>((resolve, reject) => {
    state.waiting.push({ row, json: JSON.stringify(row), resolve, reject })
    if (!state.running) void state.drain()
  })
}

/** One queue's creates on one pool: those waiting, and the loop that sends them a group at a time. */
function groupsOf(pool: pg.Pool, statement: { name: string; text: string }): Queue {
  const send = async (rows: Waiting[]) =>
    (await pool.query<ProcessingRequest>({ name: statement.name, text: statement.text, values: params(rows) })).rows
  const state: Queue = {
    waiting: [],
    running: false,
    async drain() {
      state.running = true
      try {
        while (state.waiting.length > 0) {
          const group = takeGroup(state.waiting)
          groups++
          members += group.length
          try {
            const byId = new Map((await send(group)).map((r) => [r.id, r]))
            for (const w of group) {
              const created = byId.get(w.row.id)
              if (created) w.resolve(created)
              else w.reject(new Error(`The create statement returned no row for request ${w.row.id}.`))
            }
          } catch (err) {
            if (group.length === 1) group[0]!.reject(err)
            else await Promise.all(group.map((w) => send([w]).then((rows) => w.resolve(rows[0]!), w.reject)))
          }
        }
      } finally {
        state.running = false
      }
    },
  }
  return state
}

/**
 * Validates and creates a processing request with its pg-boss job, atomically: on the pool (`db`) in
 * one statement (shared with the creates arriving meanwhile: createOnPool), or inside the caller's
 * transaction. Workers on every instance are woken by the row's NOTIFY at commit. Throws
 * NotFoundError for an unknown feature, InputError for invalid input, and the database's unique
 * violation (23505) when the owner already used `idempotencyKey`.
 */
export async function createRequest(db: Executor, boss: PgBoss, request: NewProcessingRequest): Promise<ProcessingRequest> {
  const feature = getFeature(request.feature)
  if (!feature) throw new NotFoundError()
  const input = validateInput(feature, request.input, { coerce: request.coerce, upload: request.upload ?? null })
  const id = request.id ?? randomUUID()
  const jobId = randomUUID()
  const row: NewRow = {
    id, owner_id: request.ownerId, feature: feature.name, input, upload: request.upload ?? null, job_id: jobId,
    schedule_id: request.scheduleId ?? null, idempotency_key: request.idempotencyKey ?? null,
  }
  const queue = queueName(feature.name)
  const jobInsert = request.publicApiOnly ? null : await jobInsertOf(boss, queue)
  if (!jobInsert) {
    // The public path: our INSERT and send() in one transaction.
    const values = { ...row, input: JSON.stringify(input), upload: row.upload ? JSON.stringify(row.upload) : null }
    const insert = async (trx: Executor) => {
      const created = await trx.insertInto('processing_requests').values(values).returningAll().executeTakeFirstOrThrow()
      await sendAttempt(trx, boss, feature.name, id, { id: jobId })
      return created
    }
    return db.isTransaction ? insert(db) : db.transaction().execute(insert)
  }
  const statement = statementFor(queue, jobInsert.sql('$2'))
  // On the pool: grouped with the creates arriving meanwhile, a named statement (parsed and planned once per connection).
  const pool = poolOf(db)
  if (pool) return createOnPool(pool, queue, statement, row)
  // In a transaction: the same statement through Kysely, for this one request.
  const values = params([{ row, json: JSON.stringify(row) }])
  const pieces = statement.text.split(/\$(\d)/)
  const query = sql.join(pieces.map((piece, i) => (i % 2 === 0 ? sql.raw(piece) : sql`${values[Number(piece) - 1]}`)), sql.raw(''))
  const { rows } = await sql<ProcessingRequest>`${query}`.execute(db)
  return rows[0]!
}
