// Staff view of every user's requests: /api/v1/admin/jobs/ (list with filters, read). This is where
// the maintenance schedules' runs, owned by the system account, are observed.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { countRequests, findStatus, listRequests, type StatusRow } from '../../worker/index.ts'
import { notFound } from '../http/errors.ts'
import { pageBody, resolvePage } from '../http/pagination.ts'
import { PageQuery, PageSchema } from '../schemas/pagination.ts'
import { RequestStatusSchema, StatusFilter, toStatus } from '../schemas/requests.ts'

const AdminStatusSchema = Type.Intersect([RequestStatusSchema, Type.Object({ owner: Type.Integer() })])
const withOwner = (row: StatusRow) => ({ ...toStatus(row), owner: row.owner_id })

const adminJobs: FastifyPluginAsyncTypebox = async (app) => {
  const { db } = app
  app.addHook('onRequest', app.requireStaff)

  app.get('/api/v1/admin/jobs/', {
    schema: {
      tags: ['admin: jobs'], summary: "Every user's requests, newest first",
      querystring: Type.Object({
        ...PageQuery,
        feature: Type.Optional(Type.String()),
        status: StatusFilter,
        user: Type.Optional(Type.Integer({ minimum: 1 })),
      }),
      response: { 200: PageSchema(AdminStatusSchema) },
    },
  }, async (request) => {
    const q = request.query
    const filter = { ownerId: q.user ?? null, feature: q.feature, status: q.status }
    const count = await countRequests(db, filter)
    const page = resolvePage(q, count)
    return pageBody(request, page, count, (await listRequests(db, filter, page)).map(withOwner))
  })

  app.get('/api/v1/admin/jobs/:id/', {
    schema: {
      tags: ['admin: jobs'], summary: 'One request of any user',
      params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
      response: { 200: AdminStatusSchema },
    },
  }, async (request) => {
    const row = await findStatus(db, request.params.id, null)
    if (!row) throw notFound()
    return withOwner(row)
  })
}

export default adminJobs
