// Processing requests: reads for the API, cancel and delete, and the one mapping from a row (or a
// NOTIFY payload, which has the same fields) to the API's status shape.
import { sql } from 'kysely'
import { Type, type Static } from '@sinclair/typebox'
import { fromKysely, type PgBoss } from 'pg-boss'
import type { Db, Executor } from '../../db/index.ts'
import type { ProcessingRequest, ProcessingResult, RequestStatus } from '../../db/types.ts'
import { queueName } from './enqueue.ts'

export const STATUSES: RequestStatus[] = ['pending', 'processing', 'completed', 'failed', 'cancelled']
export const UNFINISHED: RequestStatus[] = ['pending', 'processing']
export const isTerminal = (status: string): boolean => status === 'completed' || status === 'failed' || status === 'cancelled'

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()])
const Time = Type.String({ format: 'date-time' })

export const RequestStatusSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  feature: Type.String(),
  status: Type.Union(STATUSES.map((s) => Type.Literal(s))),
  progress: Type.Integer({ minimum: 0, maximum: 100 }),
  error_message: Nullable(Type.String()),
  attempts: Type.Integer(),
  schedule_id: Nullable(Type.String({ format: 'uuid' })),
  created_at: Time,
  started_at: Nullable(Time),
  finished_at: Nullable(Time),
})
export type RequestStatusBody = Static<typeof RequestStatusSchema>

export const CreatedSchema = Type.Pick(RequestStatusSchema, ['id', 'feature', 'status', 'created_at'])

/** The fields of a row that the status shape needs; times as Date (row) or ISO text (NOTIFY payload). */
export interface StatusFields {
  id: string
  feature: string
  status: RequestStatus
  progress: number
  error_message: string | null
  attempts: number
  schedule_id: string | null
  created_at: Date | string
  started_at: Date | string | null
  finished_at: Date | string | null
}

const iso = (t: Date | string | null): string | null => (t === null ? null : new Date(t).toISOString())

export function toStatus(row: StatusFields): RequestStatusBody {
  return {
    id: row.id, feature: row.feature, status: row.status, progress: row.progress, error_message: row.error_message,
    attempts: row.attempts, schedule_id: row.schedule_id,
    created_at: iso(row.created_at)!, started_at: iso(row.started_at), finished_at: iso(row.finished_at),
  }
}

export function toCreated(row: StatusFields): Static<typeof CreatedSchema> {
  return { id: row.id, feature: row.feature, status: row.status, created_at: iso(row.created_at)! }
}

export function findRequest(db: Executor, id: string, ownerId: number | null): Promise<ProcessingRequest | undefined> {
  let q = db.selectFrom('processing_requests').selectAll().where('id', '=', id)
  if (ownerId !== null) q = q.where('owner_id', '=', ownerId)
  return q.executeTakeFirst()
}

/** The columns of the status shape (plus the owner): reads that must not drag a large input along. */
const STATUS_COLUMNS = [
  'id', 'owner_id', 'feature', 'status', 'progress', 'error_message', 'attempts', 'schedule_id', 'created_at', 'started_at', 'finished_at',
] as const
export type StatusRow = StatusFields & { owner_id: number }

export function findStatus(db: Executor, id: string, ownerId: number | null): Promise<StatusRow | undefined> {
  let q = db.selectFrom('processing_requests').select(STATUS_COLUMNS).where('id', '=', id)
  if (ownerId !== null) q = q.where('owner_id', '=', ownerId)
  return q.executeTakeFirst()
}

export function findByIdempotencyKey(db: Executor, ownerId: number, key: string): Promise<ProcessingRequest | undefined> {
  return db.selectFrom('processing_requests').selectAll()
    .where('owner_id', '=', ownerId).where('idempotency_key', '=', key).executeTakeFirst()
}

export function findResult(db: Executor, requestId: string): Promise<ProcessingResult | undefined> {
  return db.selectFrom('processing_results').selectAll().where('request_id', '=', requestId).executeTakeFirst()
}

export interface ListFilter {
  /** null: every owner's (staff). */
  ownerId: number | null
  feature?: string
  status?: RequestStatus
  ascending?: boolean
}

export async function countRequests(db: Executor, filter: ListFilter): Promise<number> {
  let q = db.selectFrom('processing_requests').select((eb) => eb.fn.countAll<number>().as('n'))
  if (filter.ownerId !== null) q = q.where('owner_id', '=', filter.ownerId)
  if (filter.feature) q = q.where('feature', '=', filter.feature)
  if (filter.status) q = q.where('status', '=', filter.status)
  return (await q.executeTakeFirstOrThrow()).n
}

export function listRequests(db: Executor, filter: ListFilter, page: { limit: number; offset: number }): Promise<StatusRow[]> {
  const direction = filter.ascending ? 'asc' : 'desc'
  let q = db.selectFrom('processing_requests').select(STATUS_COLUMNS)
  if (filter.ownerId !== null) q = q.where('owner_id', '=', filter.ownerId)
  if (filter.feature) q = q.where('feature', '=', filter.feature)
  if (filter.status) q = q.where('status', '=', filter.status)
  return q.orderBy('created_at', direction).orderBy('id', direction).limit(page.limit).offset(page.offset).execute()
}

/**
 * Cancels a pending or running request: status `cancelled` and its job cancelled in one transaction.
 * The row's NOTIFY tells whichever engine runs it to abort. `ownerId` null: any owner (staff).
 * Returns null when not found; `cancelled: false` with the row when it had already finished.
 */
export async function cancelRequest(db: Db, boss: PgBoss, id: string, ownerId: number | null): Promise<{ row: ProcessingRequest; cancelled: boolean } | null> {
  return db.transaction().execute(async (trx) => {
    let q = trx.updateTable('processing_requests')
      .set({ status: 'cancelled', finished_at: sql<Date>`now()` })
      .where('id', '=', id).where('status', 'in', UNFINISHED)
    if (ownerId !== null) q = q.where('owner_id', '=', ownerId)
    const row = await q.returningAll().executeTakeFirst()
    if (row) {
      if (row.job_id) await boss.cancel(queueName(row.feature), row.job_id, { db: fromKysely(trx) })
      return { row, cancelled: true }
    }
    const existing = await findRequest(trx, id, ownerId)
    return existing ? { row: existing, cancelled: false } : null
  })
}

/** Deletes a request and its results, cancelling it first if unfinished. False when not found. */
export async function deleteRequest(db: Db, boss: PgBoss, id: string, ownerId: number | null): Promise<boolean> {
  const found = await cancelRequest(db, boss, id, ownerId)
  if (!found) return false
  await db.deleteFrom('processing_requests').where('id', '=', id).execute()
  return true
}
