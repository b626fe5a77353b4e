// Staff API for every user's requests: /api/v1/admin/jobs/ — list, read (with the pg-boss job and
// results), retry, cancel, delete, and bulk actions. Each write and its audit entry commit together;
// in a bulk action every id is its own transaction, so one failure leaves the others alone.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { Type } from '@sinclair/typebox'
import { recordAudit } from '../../db/repositories/audit.ts'
import type { ProcessingRequest } from '../../db/types.ts'
import {
  cancelRequest, ConflictError, countStaffRequests, deleteRequest, findQueueJob, findResult, findStaffRequest, listStaffRequests,
  NotFoundError, removeRequestFiles, retryRequest, type StaffOrderField,
} from '../../worker/index.ts'
import { notFound } from '../http/errors.ts'
import { pageBody, resolvePage } from '../http/pagination.ts'
import {
  AdminJobDetailSchema, AdminJobListQuery, AdminJobPageSchema, BulkBody, BulkResponseSchema, JobIdParams, toAdminJob,
  type BulkAction, type BulkItem, type QueueJob,
} from '../schemas/admin-jobs.ts'
import { RequestStatusSchema, toStatus } from '../schemas/requests.ts'
import { errors } from '../schemas/users.ts'
import { actorOf } from '../http/actor.ts'

const tags = ['admin: jobs']
const base = '/api/v1/admin/jobs'
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

const adminJobs: FastifyPluginAsyncTypebox = async (app) => {
  const { db, boss, config } = app
  app.addHook('onRequest', app.requireStaff)

  /**
   * One staff action on one request, with its audit entry, in one transaction. Throws the job
   * system's NotFoundError / ConflictError (the single routes answer 404 / 409 from them).
   */
  async function act(request: FastifyRequest, action: BulkAction, id: string, bulk: boolean): Promise<ProcessingRequest> {
    const actor = actorOf(request)
    const row = await db.transaction().execute(async (trx) => {
      let row: ProcessingRequest
      if (action === 'retry') {
        row = await retryRequest(trx, boss, id, { mediaRoot: config.mediaRoot })
      } else if (action === 'cancel') {
        const found = await cancelRequest(trx, boss, id, null)
        if (!found) throw new NotFoundError()
        if (!found.cancelled) throw new ConflictError(`The request is already ${found.row.status}.`, { status: found.row.status })
        row = found.row
      } else {
        const deleted = await deleteRequest(trx, boss, id, null)
        if (!deleted) throw new NotFoundError()
        row = deleted
      }
      const changes: Record<string, unknown> = action === 'delete'
        ? { feature: row.feature, user: row.owner_id, status: row.status }
        : { status: row.status }
      await recordAudit(trx, { actor, action, objectType: 'job', objectId: id, changes: bulk ? { ...changes, bulk: true } : changes })
      return row
    })
    // After the commit: a cancelled request's files go (as the owner's cancel), a deleted one's too.
    // A running request's engine removes them again once its thread has stopped.
    if (action !== 'retry') await removeRequestFiles(config.mediaRoot, id)
    // Counted once committed, as every job counter is.
    if (action === 'retry') app.metrics.job(row.feature, 'retried')
    else if (action === 'cancel') app.metrics.job(row.feature, 'cancelled')
    return row
  }

  app.get(`${base}/`, {
    schema: {
      tags, summary: "Every user's requests, newest first", querystring: AdminJobListQuery,
      response: { 200: AdminJobPageSchema, ...errors(400, 401, 403, 404) },
    },
  }, async (request) => {
    const q = request.query
    const filter = {
      feature: q.feature, status: q.status, ownerId: q.user, search: q.search?.trim() || undefined,
      createdAfter: q.created_after ? new Date(q.created_after) : undefined,
      createdBefore: q.created_before ? new Date(q.created_before) : undefined,
    }
    const ordering = q.ordering ?? '-created_at'
    const order = { by: ordering.replace(/^-/, '') as StaffOrderField, descending: ordering.startsWith('-') }
    const count = await countStaffRequests(db, filter)
    const page = resolvePage(q, count)
    const rows = await listStaffRequests(db, filter, order, page)
    return pageBody(request, page, count, rows.map((r) => toAdminJob(r, { id: r.owner_id, email: r.owner_email })))
  })

  app.get(`${base}/:id/`, {
    schema: {
      tags, summary: 'One request of any user, with its pg-boss job and its results', params: JobIdParams,
      response: { 200: AdminJobDetailSchema, ...errors(401, 403, 404) },
    },
  }, async (request) => {
    const row = await findStaffRequest(db, request.params.id)
    if (!row) throw notFound()
    const [job, result] = await Promise.all([findQueueJob(boss, row.feature, row.job_id), findResult(db, row.id)])
    const queue: QueueJob | null = job && {
      job_id: job.id, state: job.state, retry_count: job.retryCount, retry_limit: job.retryLimit,
      created_on: job.createdOn.toISOString(), started_on: job.startedOn?.toISOString() ?? null,
      completed_on: job.completedOn?.toISOString() ?? null, output: (job.output as Record<string, unknown> | null) ?? null,
    }
    return {
      ...toAdminJob(row, { id: row.owner_id, email: row.owner_email }),
      queue,
      results: result ? { data: result.data, files: result.files } : null,
    }
  })

  app.post(`${base}/:id/retry/`, {
    schema: {
      tags, summary: 'A new attempt at a failed or cancelled request', params: JobIdParams,
      response: { 202: RequestStatusSchema, ...errors(401, 403, 404, 409) },
    },
  }, async (request, reply) => reply.code(202).send(toStatus(await act(request, 'retry', request.params.id, false))))

  app.post(`${base}/:id/cancel/`, {
    schema: {
      tags, summary: 'Cancel a pending or running request', params: JobIdParams,
      response: { 200: RequestStatusSchema, ...errors(401, 403, 404, 409) },
    },
  }, async (request) => toStatus(await act(request, 'cancel', request.params.id, false)))

  app.delete(`${base}/:id/`, {
    schema: {
      tags, summary: 'Delete a request, its results and files (cancelling it first)', params: JobIdParams,
      response: { 204: Type.Null(), ...errors(401, 403, 404) },
    },
  }, async (request, reply) => {
    await act(request, 'delete', request.params.id, false)
    return reply.code(204).send(null)
  })

  app.post(`${base}/bulk/`, {
    schema: {
      tags, summary: 'Retry, cancel or delete many requests; each id succeeds or fails on its own',
      body: BulkBody, response: { 200: BulkResponseSchema, ...errors(400, 401, 403) },
    },
  }, async (request) => {
    const { action, ids } = request.body
    const results: BulkItem[] = []
    for (const id of new Set(ids)) {
      if (!UUID.test(id)) {
        results.push({ id, ok: false, detail: 'Must be a valid UUID.' })
        continue
      }
      try {
        const row = await act(request, action, id.toLowerCase(), true)
        results.push({ id, ok: true, status: row.status })
      } catch (err) {
        if (err instanceof NotFoundError || err instanceof ConflictError) {
          results.push({ id, ok: false, detail: err.message })
        } else {
          // A bug or a lost connection on one id must not hide what happened to the others.
          request.log.error({ err, id, action }, 'bulk action failed')
          results.push({ id, ok: false, detail: 'Internal server error.' })
        }
      }
    }
    return { action, results }
  })
}

export default adminJobs
