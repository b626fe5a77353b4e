// Processing-request API: loads the feature registry, makes sure every feature's queue exists, and
// registers `/api/v1/<feature>/…` for each feature, `/api/v1/features/` and `/api/v1/jobs/list/`.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import multipart from '@fastify/multipart'
import { Type } from '@sinclair/typebox'
import type { RequestStatus } from '../../db/types.ts'
import { featuresOf, loadFeatures, moduleUrls } from '../../worker/registry.ts'
import { HttpError, notFound } from '../http/errors.ts'
import { PageQuery, PageSchema, pageBody, resolvePage } from '../http/pagination.ts'
import { ensureQueues } from './enqueue.ts'
import { acquireRequestEvents, type RequestEvents } from './live.ts'
import { countRequests, listRequests, RequestStatusSchema, STATUSES, toStatus } from './repository.ts'
import createRoute from './routes/create.ts'
import downloadRoutes from './routes/downloads.ts'
import eventRoutes from './routes/events.ts'
import requestRoutes from './routes/requests.ts'
import { FIELD_SIZE, MAX_FIELDS } from './uploads.ts'

const FeatureInfoSchema = Type.Object({
  name: Type.String(),
  title: Type.String(),
  description: Type.String(),
  input_schema: Type.Any(),
  accepts_file: Type.Boolean(),
})

export const StatusFilter = Type.Optional(Type.Union(STATUSES.map((s) => Type.Literal(s))))

const jobs: FastifyPluginAsyncTypebox = async (app) => {
  const { config, boss, db, log } = app
  const urls = moduleUrls(config.featureModules)
  await loadFeatures(urls)
  const features = featuresOf(urls)
  await ensureQueues(boss, features, config)

  // The process's shared LISTEN connection, taken on the first live-status subscriber (and never
  // after the app has closed, which would leave it open).
  let live: ReturnType<typeof acquireRequestEvents> | null = null
  let closed = false
  const events = async (): Promise<RequestEvents> => {
    if (closed) throw new HttpError(503, { detail: 'The server is shutting down.' })
    return (await (live ??= acquireRequestEvents(boss, log))).events
  }
  app.addHook('onClose', async () => {
    closed = true
    if (live) await (await live.catch(() => null))?.release()
  })

  // Only these routes take multipart bodies; the upload limit applies per file, streamed. Fields
  // are held in memory: few and small by default (readMultipart also bounds their total).
  await app.register(multipart, {
    limits: { fileSize: config.uploadLimit, files: 1, fields: MAX_FIELDS, fieldSize: Math.min(FIELD_SIZE, config.bodyLimit) },
  })

  app.get('/api/v1/features/', {
    onRequest: app.authenticate,
    schema: { tags: ['jobs'], summary: 'Registered features', response: { 200: Type.Array(FeatureInfoSchema) } },
  }, async (request) => features.filter((f) => !f.system || request.user!.is_staff).map((f) => ({
    name: f.name, title: f.title, description: f.description, input_schema: f.input, accepts_file: Boolean(f.file),
  })))

  app.get('/api/v1/jobs/list/', {
    onRequest: app.authenticate,
    schema: {
      tags: ['jobs'], summary: "The caller's requests across features",
      querystring: Type.Object({ ...PageQuery, feature: Type.Optional(Type.String()), status: StatusFilter }),
      response: { 200: PageSchema(RequestStatusSchema) },
    },
  }, async (request) => {
    const q = request.query
    const filter = { ownerId: request.user!.id, feature: q.feature, status: q.status as RequestStatus | undefined }
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
      await scope.register(eventRoutes, { feature, prefix, events })
    })
  }
}

export default jobs
