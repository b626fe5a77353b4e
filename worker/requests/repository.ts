// Processing requests: reads for the API, cancel and delete. Rows map to the API's shapes in
// server/schemas/requests.ts; a NOTIFY payload has the same status fields as a row.
import { sql, type CompiledQuery } from 'kysely'
import { fromKysely, type PgBoss } from 'pg-boss'
import { poolOf, type Executor } from '../../db/index.ts'
import type { ProcessingRequest, ProcessingResult, RequestStatus, StatusFields } from '../../db/types.ts'
import { queueName } from '../queue/queues.ts'

export type { StatusFields }

export const UNFINISHED: RequestStatus[] = ['pending', 'processing']
export const isTerminal = (status: string): boolean => status === 'completed' || status === 'failed' || status === 'cancelled'

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

// The status read, compiled once per shape (with or without the owner): it is the API's most frequent
// query (clients poll it), and building and compiling it cost more than PostgreSQL's answer to it.
const statusQueries = new Map<boolean, CompiledQuery<StatusRow>>()

export async function findStatus(db: Executor, id: string, ownerId: number | null): Promise<StatusRow | undefined> {
  const owned = ownerId !== null
  let compiled = statusQueries.get(owned)
  if (!compiled) {
    let q = db.selectFrom('processing_requests').select(STATUS_COLUMNS).where('id', '=', '')
    if (owned) q = q.where('owner_id', '=', 0)
    statusQueries.set(owned, (compiled = q.compile()))
  }
  const values = owned ? [id, ownerId] : [id]
  // On a pool (not inside a transaction) the read goes to pg itself, as a named statement: Kysely's
  // executor around it (connection provider, driver, result handling) cost more CPU than the rest of
  // the route, ~0.08 of the status GET's ~0.33 ms (BENCHMARKS.md). A failed query's connection is
  // closed by pg-pool, as for a stale prepared statement in db/prepared.ts.
  const pool = poolOf(db)
  if (pool) return (await pool.query<StatusRow>({ name: owned ? 'conveyor_status_owned' : 'conveyor_status', text: compiled.sql, values })).rows[0]
  const { rows } = await db.executeQuery<StatusRow>({ ...compiled, parameters: values })
  return rows[0]
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
 * Cancels a pending or running request: status `cancelled` and its job cancelled in one transaction
 * (the caller's, when `db` is one: staff writes add their audit entry to it). The row's NOTIFY tells
 * whichever engine runs it to abort. `ownerId` null: any owner (staff).
 * Returns null when not found; `cancelled: false` with the row when it had already finished.
 */
export async function cancelRequest(db: Executor, boss: PgBoss, id: string, ownerId: number | null): Promise<{ row: ProcessingRequest; cancelled: boolean } | null> {
  if (!db.isTransaction) return db.transaction().execute((trx) => cancelRequest(trx, boss, id, ownerId))
  let q = db.updateTable('processing_requests')
    .set({ status: 'cancelled', finished_at: sql<Date>`now()` })
    .where('id', '=', id).where('status', 'in', UNFINISHED)
  if (ownerId !== null) q = q.where('owner_id', '=', ownerId)
  const row = await q.returningAll().executeTakeFirst()
  if (row) {
    if (row.job_id) await boss.cancel(queueName(row.feature), row.job_id, { db: fromKysely(db) })
    return { row, cancelled: true }
  }
  const existing = await findRequest(db, id, ownerId)
  return existing ? { row: existing, cancelled: false } : null
}

/**
 * Deletes a request and its results, cancelling it first if unfinished (in the caller's transaction
 * when `db` is one). Returns the deleted row, or null when not found. Its files are the caller's to
 * remove (removeRequestFiles), after the commit.
 */
export async function deleteRequest(db: Executor, boss: PgBoss, id: string, ownerId: number | null): Promise<ProcessingRequest | null> {
  if (!db.isTransaction) return db.transaction().execute((trx) => deleteRequest(trx, boss, id, ownerId))
  const found = await cancelRequest(db, boss, id, ownerId)
  if (!found) return null
  await db.deleteFrom('processing_requests').where('id', '=', id).execute()
  return found.row
}
