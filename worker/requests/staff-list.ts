// Every user's requests for the staff API (/api/v1/admin/jobs/): filters, search and ordering over
// processing_requests joined with their owners.
import type { JobWithMetadata, PgBoss } from 'pg-boss'
import type { Executor } from '../../db/index.ts'
import type { ProcessingRequest, RequestStatus } from '../../db/types.ts'
import { queueName, type JobData } from '../queue/queues.ts'

export interface StaffFilter {
  feature?: string
  status?: RequestStatus
  ownerId?: number
  createdAfter?: Date
  createdBefore?: Date
  /** The start of the request's id, or part of its owner's e-mail (any case). */
  search?: string
}

export type StaffOrderField = 'created_at' | 'started_at' | 'finished_at' | 'feature' | 'status'

export type StaffRow = ProcessingRequest & { owner_email: string }

function filtered(db: Executor, f: StaffFilter) {
  let q = db.selectFrom('processing_requests as r').innerJoin('users as u', 'u.id', 'r.owner_id')
  if (f.feature) q = q.where('r.feature', '=', f.feature)
  if (f.status) q = q.where('r.status', '=', f.status)
  if (f.ownerId !== undefined) q = q.where('r.owner_id', '=', f.ownerId)
  if (f.createdAfter) q = q.where('r.created_at', '>=', f.createdAfter)
  if (f.createdBefore) q = q.where('r.created_at', '<', f.createdBefore)
  if (f.search) {
    const escaped = f.search.replace(/[\\%_]/g, (c) => `\\${c}`)
    q = q.where((eb) => eb.or([
      eb(eb.cast('r.id', 'text'), 'like', `${escaped.toLowerCase()}%`),
      eb('u.email', 'ilike', `%${escaped}%`),
    ]))
  }
  return q
}

export async function countStaffRequests(db: Executor, f: StaffFilter): Promise<number> {
  const { n } = await filtered(db, f).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
  return n
}

/** One page, ordered by `order` then by id in the same direction, so pages never overlap. */
export function listStaffRequests(db: Executor, f: StaffFilter, order: { by: StaffOrderField; descending: boolean },
  page: { limit: number; offset: number }): Promise<StaffRow[]> {
  const direction = order.descending ? 'desc' : 'asc'
  return filtered(db, f).selectAll('r').select('u.email as owner_email')
    .orderBy(`r.${order.by}`, direction).orderBy('r.id', direction).limit(page.limit).offset(page.offset).execute()
}

/** One request of any owner, with the owner's e-mail. */
export function findStaffRequest(db: Executor, id: string): Promise<StaffRow | undefined> {
  return db.selectFrom('processing_requests as r').innerJoin('users as u', 'u.id', 'r.owner_id')
    .selectAll('r').select('u.email as owner_email').where('r.id', '=', id).executeTakeFirst()
}

/** The request's current pg-boss job (public API: getJobById); null when pg-boss no longer has it. */
export async function findQueueJob(boss: PgBoss, feature: string, jobId: string | null): Promise<JobWithMetadata<JobData> | null> {
  if (!jobId) return null
  // A feature removed from the registry may have no queue left: that is "no job", not an error.
  return boss.getJobById<JobData>(queueName(feature), jobId).catch(() => null)
}
