// Staff API for the audit log: /api/v1/admin/audit-log/ — every staff write, newest first.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { countAudit, listAudit } from '../../db/repositories/audit.ts'
import { pageBody, resolvePage } from '../http/pagination.ts'
import { AuditListQuery, AuditPageSchema, toAuditEntry } from '../schemas/audit.ts'
import { errors } from '../schemas/users.ts'

const adminAudit: FastifyPluginAsyncTypebox = async (app) => {
  const { db } = app
  app.addHook('onRequest', app.requireStaff)

  app.get('/api/v1/admin/audit-log/', {
    schema: {
      tags: ['admin: audit log'], summary: 'Every staff write, newest first', querystring: AuditListQuery,
      response: { 200: AuditPageSchema, ...errors(400, 401, 403, 404) },
    },
  }, async (request) => {
    const q = request.query
    const filter = { actor: q.actor, action: q.action, objectType: q.object_type, objectId: q.object_id }
    const count = await countAudit(db, filter)
    const page = resolvePage(q, count)
    return pageBody(request, page, count, (await listAudit(db, filter, page)).map(toAuditEntry))
  })
}

export default adminAudit
