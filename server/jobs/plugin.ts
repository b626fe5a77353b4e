// Processing-request API: `/api/v1/<feature>/…` for each registered feature, `/api/v1/features/` and
// `/api/v1/jobs/list/`. Routes only: the features, queues and events come from the service plugins.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import multipart from '@fastify/multipart'
import { Type } from '@sinclair/typebox'
import { countRequests, listRequests, resultOf } from '../../worker/index.ts'
import { notFound } from '../http/errors.ts'
import { pageBody, resolvePage } from '../http/pagination.ts'
import { FeatureInfoSchema, type FeatureInfo } from '../schemas/features.ts'
import { PageQuery, PageSchema } from '../schemas/pagination.ts'
import { RequestStatusSchema, StatusFilter, toStatus } from '../schemas/requests.ts'
import createRoute from './routes/create.ts'
import downloadRoutes from './routes/downloads.ts'
import eventRoutes from './routes/events.ts'
import requestRoutes from './routes/requests.ts'
import { FIELD_SIZE, MAX_FIELDS } from './uploads.ts'

const jobs: FastifyPluginAsyncTypebox = async (app) => {
  const { config, db, features } = app

  // Only these routes take multipart bodies; the upload limit applies per file, streamed. Fields
  // are held in memory: few and small by default (readMultipart also bounds their total).
  await app.register(multipart, {
    limits: { fileSize: config.uploadLimit, files: 1, fields: MAX_FIELDS, fieldSize: Math.min(FIELD_SIZE, config.bodyLimit) },
  })

  app.get('/api/v1/features/', {
    onRequest: app.authenticate,
    schema: { tags: ['jobs'], summary: 'Registered features', response: { 200: Type.Array(FeatureInfoSchema) } },
  }, async (request) => features.filter((f) => !f.system || request.user!.is_staff).map((f): FeatureInfo => {
    const result = resultOf(f)
    return {
      name: f.name, title: f.title, description: f.description, input_schema: f.input, accepts_file: Boolean(f.file),
      result_view: result.view, download_formats: result.downloads,
    }
  }))

  app.get('/api/v1/jobs/list/', {
    onRequest: app.authenticate,
    schema: {
      tags: ['jobs'], summary: "The caller's requests across features",
      querystring: Type.Object({ ...PageQuery, feature: Type.Optional(Type.String()), status: StatusFilter }),
      response: { 200: PageSchema(RequestStatusSchema) },
    },
  }, async (request) => {
    const q = request.query
    const filter = { ownerId: request.user!.id, feature: q.feature, status: q.status }
    const count = await countRequests(db, filter)
    const page = resolvePage(q, count)
    const rows = await listRequests(db, filter, page)
    return pageBody(request, page, count, rows.map(toStatus))
  })

  for (const feature of features) {
    const prefix = `/api/v1/${feature.name}`
    await app.register(async (scope) => {
      // A system feature (maintenance) is staff's: to anyone else none of its routes exist.
      if (feature.system) {
        scope.addHook('preHandler', async (request) => {
          if (!request.user?.is_staff) throw notFound()
        })
      }
      await scope.register(createRoute, { feature, prefix })
      await scope.register(requestRoutes, { feature, prefix })
      await scope.register(downloadRoutes, { feature, prefix })
      await scope.register(eventRoutes, { feature, prefix })
    })
  }
}

export default jobs
