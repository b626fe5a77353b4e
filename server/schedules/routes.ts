// Staff API for schedules: /api/v1/admin/schedules/ — CRUD and run-now. Every change is written
// with its pg-boss mirror and its audit entry in one transaction, so it takes effect on every
// instance at once and is recorded exactly when it happened.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { Type } from '@sinclair/typebox'
import { sql } from 'kysely'
import { recordAudit } from '../../db/repositories/audit.ts'
import {
  checkSchedule, createScheduledRequest, deleteSchedule, findSchedule, insertSchedule, syncSchedule, updateSchedule, type ScheduleFields,
} from '../../worker/index.ts'
import { notFound, validationFailed } from '../http/errors.ts'
import { pageBody, resolvePage } from '../http/pagination.ts'
import { RequestStatusSchema, toStatus } from '../schemas/requests.ts'
import { ScheduleIdParams, ScheduleInputSchema, ScheduleListQuery, SchedulePageSchema, SchedulePatchSchema, ScheduleSchema, type SchedulePatch } from '../schemas/schedules.ts'
import { toScheduleResponse } from './respond.ts'
import { actorOf } from '../http/actor.ts'

const tags = ['admin: schedules']

const scheduleRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, boss } = app
  const base = '/api/v1/admin/schedules'
  const show = (row: Parameters<typeof toScheduleResponse>[1]) => toScheduleResponse(boss, row)


  /** What a body wrote, in the API's field names (the audit entry's `changes`). */
  const written = (body: SchedulePatch, fields: ScheduleFields) => Object.fromEntries(
    Object.keys(body).filter((k) => k in ScheduleInputSchema.properties)
      .map((k) => [k, k === 'owner' ? fields.owner_id : fields[k as keyof ScheduleFields]]))

  /** Validates the merged fields, then writes the row, its pg-boss mirror and the audit entry together. */
  async function save(request: FastifyRequest, id: string | null, fields: ScheduleFields, changes: Record<string, unknown>) {
    const checked = await checkSchedule(db, boss, fields, id ?? undefined)
    if (checked.errors) throw validationFailed(checked.errors as Record<string, string[]>)
    return db.transaction().execute(async (trx) => {
      const row = id ? await updateSchedule(trx, id, checked.fields) : await insertSchedule(trx, checked.fields)
      if (!row) throw notFound()
      await syncSchedule(trx, boss, row.id, row)
      await recordAudit(trx, { actor: actorOf(request), action: id ? 'update' : 'create', objectType: 'schedule', objectId: row.id, changes })
      return row
    }).catch((err: { code?: string; constraint?: string }) => {
      // Two saves racing for one name: the unique index decides, the loser gets the field error.
      if (err.code === '23505') throw validationFailed({ name: ['schedule with this name already exists.'] })
      throw err
    })
  }

  const fieldsOf = (body: SchedulePatch, current: ScheduleFields): ScheduleFields => ({
    name: body.name ?? current.name,
    feature: body.feature ?? current.feature,
    cron: (body.cron ?? current.cron).trim(),
    timezone: body.timezone ?? current.timezone,
    input: (body.input as Record<string, unknown> | undefined) ?? current.input,
    enabled: body.enabled ?? current.enabled,
    description: body.description ?? current.description,
    owner_id: body.owner ?? current.owner_id,
  })

  app.addHook('onRequest', app.requireStaff)

  app.get(`${base}/`, {
    schema: { tags, summary: 'List schedules', querystring: ScheduleListQuery, response: { 200: SchedulePageSchema } },
  }, async (request) => {
    const q = request.query
    let query = db.selectFrom('schedules')
    if (q.enabled !== undefined) query = query.where('enabled', '=', q.enabled)
    if (q.feature) query = query.where('feature', '=', q.feature)
    if (q.search) {
      const like = `%${q.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`
      query = query.where((eb) => eb.or([eb('name', 'ilike', like), eb('description', 'ilike', like)]))
    }
    const { count } = await query.select(sql<number>`count(*)::int`.as('count')).executeTakeFirstOrThrow()
    const page = resolvePage(q, count)
    const rows = await query.selectAll().orderBy('name').limit(page.limit).offset(page.offset).execute()
    return pageBody(request, page, count, rows.map(show))
  })

  app.post(`${base}/`, {
    schema: { tags, summary: 'Create a schedule', body: ScheduleInputSchema, response: { 201: ScheduleSchema } },
  }, async (request, reply) => {
    const b = request.body
    const fields = fieldsOf(b, {
      name: b.name, feature: b.feature, cron: b.cron, timezone: 'UTC', input: {}, enabled: true, description: '', owner_id: request.user!.id,
    })
    const { owner_id: owner, ...rest } = fields
    const row = await save(request, null, fields, { ...rest, owner })
    return reply.code(201).send(show(row))
  })

  app.get(`${base}/:id/`, {
    schema: { tags, summary: 'Read a schedule', params: ScheduleIdParams, response: { 200: ScheduleSchema } },
  }, async (request) => {
    const row = await findSchedule(db, request.params.id)
    if (!row) throw notFound()
    return show(row)
  })

  for (const method of ['PUT', 'PATCH'] as const) {
    app.route({
      method,
      url: `${base}/:id/`,
      schema: {
        tags, summary: method === 'PUT' ? 'Replace a schedule' : 'Update some fields of a schedule',
        params: ScheduleIdParams, body: method === 'PUT' ? ScheduleInputSchema : SchedulePatchSchema, response: { 200: ScheduleSchema },
      },
      handler: async (request) => {
        const current = await findSchedule(db, request.params.id)
        if (!current) throw notFound()
        const body = request.body as SchedulePatch
        // PUT replaces: optional fields left out go back to their defaults.
        const base = method === 'PUT'
          ? { ...current, timezone: 'UTC', input: {}, enabled: true, description: '' }
          : current
        const fields = fieldsOf(body, base)
        return show(await save(request, current.id, fields, written(body, fields)))
      },
    })
  }

  app.delete(`${base}/:id/`, {
    schema: { tags, summary: 'Delete a schedule (its past requests are kept)', params: ScheduleIdParams, response: { 204: Type.Null() } },
  }, async (request, reply) => {
    const deleted = await db.transaction().execute(async (trx) => {
      const row = await findSchedule(trx, request.params.id)
      if (!row || !(await deleteSchedule(trx, row.id))) return false
      await syncSchedule(trx, boss, row.id, null)
      await recordAudit(trx, { actor: actorOf(request), action: 'delete', objectType: 'schedule', objectId: row.id, changes: { name: row.name } })
      return true
    })
    if (!deleted) throw notFound()
    return reply.code(204).send(null)
  })

  app.post(`${base}/:id/run-now/`, {
    schema: { tags, summary: 'Create a request from the schedule now', params: ScheduleIdParams, response: { 202: RequestStatusSchema } },
  }, async (request, reply) => {
    const created = await db.transaction().execute(async (trx) => {
      const row = await createScheduledRequest(trx, boss, request.params.id, { idempotencyKey: null, onlyIfEnabled: false })
      if (row) {
        await recordAudit(trx, {
          actor: actorOf(request), action: 'run_now', objectType: 'schedule', objectId: request.params.id, changes: { request: row.id },
        })
      }
      return row
    })
    if (created) app.metrics.job(created.feature, 'created')
    if (!created) throw notFound()
    return reply.code(202).send(toStatus(created))
  })
}

export default scheduleRoutes
