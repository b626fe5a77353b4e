// A feature's requests: status, results, list, cancel and delete. Another user's request is 404.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { cancelRequest, countRequests, deleteRequest, findResult, findStatus, listRequests, removeRequestFiles, type Feature } from '../../../worker/index.ts'
import { conflict, notFound } from '../../http/errors.ts'
import { absoluteUrl, pageBody, resolvePage } from '../../http/pagination.ts'
import { ConflictErrorSchema } from '../../schemas/errors.ts'
import { PageQuery, PageSchema } from '../../schemas/pagination.ts'
import { IdParams, RequestStatusSchema, ResultsSchema, StatusFilter, toStatus } from '../../schemas/requests.ts'

const requestRoutes: FastifyPluginAsyncTypebox<{ feature: Feature }> = async (app, { feature }) => {
  const { db, hotDb, boss, config } = app
  const tags = [feature.name]

  /** The caller's request of this feature, or 404. */
  async function own(id: string, ownerId: number) {
    const row = await findStatus(hotDb, id, ownerId)
    if (!row || row.feature !== feature.name) throw notFound()
    return row
  }

  app.get('/status/:id/', {
    onRequest: app.authenticate,
    schema: { tags, summary: 'Status of a request', params: IdParams, response: { 200: RequestStatusSchema } },
  }, async (request) => toStatus(await own(request.params.id, request.user!.id)))

  app.get('/results/:id/', {
    onRequest: app.authenticate,
    schema: { tags, summary: 'Results of a completed request', params: IdParams, response: { 200: ResultsSchema, 409: ConflictErrorSchema } },
  }, async (request) => {
    const row = await own(request.params.id, request.user!.id)
    const result = row.status === 'completed' ? await findResult(db, row.id) : undefined
    if (!result) throw conflict('Results are not ready.', { status: row.status })
    return {
      id: row.id, status: row.status, data: result.data,
      files: result.files.map((f) => ({
        ...f, url: absoluteUrl(request, `/api/v1/${feature.name}/download-file/${row.id}/${encodeURIComponent(f.name)}/`),
      })),
    }
  })

  app.get('/list/', {
    onRequest: app.authenticate,
    schema: {
      tags, summary: `The caller's ${feature.title} requests, newest first`,
      querystring: Type.Object({
        ...PageQuery,
        status: StatusFilter,
        ordering: Type.Optional(Type.Union([Type.Literal('created_at'), Type.Literal('-created_at')])),
      }),
      response: { 200: PageSchema(RequestStatusSchema) },
    },
  }, async (request) => {
    const q = request.query
    const filter = { ownerId: request.user!.id, feature: feature.name, status: q.status, ascending: q.ordering === 'created_at' }
    const count = await countRequests(db, filter)
    const page = resolvePage(q, count)
    return pageBody(request, page, count, (await listRequests(db, filter, page)).map(toStatus))
  })

  app.post('/cancel/:id/', {
    onRequest: app.authenticate,
    schema: { tags, summary: 'Cancel a pending or running request', params: IdParams, response: { 200: RequestStatusSchema, 409: ConflictErrorSchema } },
  }, async (request) => {
    await own(request.params.id, request.user!.id)
    const found = await cancelRequest(db, boss, request.params.id, request.user!.id)
    if (!found) throw notFound()
    if (!found.cancelled) throw conflict(`The request is already ${found.row.status}.`, { status: found.row.status })
    app.metrics.job(found.row.feature, 'cancelled') // committed: cancelRequest's transaction is done
    // A running request's engine removes its files again once its thread has stopped.
    await removeRequestFiles(config.mediaRoot, found.row.id)
    return toStatus(found.row)
  })

  app.delete('/delete/:id/', {
    onRequest: app.authenticate,
    schema: {
      tags, summary: 'Delete a request, its results and files (cancelling it first)', params: IdParams,
      response: { 204: Type.Null({ description: 'Deleted' }) },
    },
  }, async (request, reply) => {
    await own(request.params.id, request.user!.id)
    if (!(await deleteRequest(db, boss, request.params.id, request.user!.id))) throw notFound()
    await removeRequestFiles(config.mediaRoot, request.params.id)
    return reply.code(204).send(null)
  })
}

export default requestRoutes
