// Builds the Fastify application. The same function serves `npm start` and the tests, which talk
// to it with app.inject. Plugins are registered in dependency order: this list is the table of contents.
import { randomUUID } from 'node:crypto'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { PgBoss } from 'pg-boss'
import type { Db } from '../db/index.ts'
import { validatorCompiler } from '../worker/index.ts'
import type { Config } from './config.ts'
import { registerErrorHandler, HttpError, methodNotAllowed, notFound } from './http/errors.ts'
import { trackRoutes } from './http/method-not-allowed.ts'
import openapi from './http/openapi.ts'
import security from './http/security.ts'
import database from './plugins/database.ts'
import boss from './plugins/boss.ts'
import features from './plugins/features.ts'
import events from './plugins/events.ts'
import metrics, { type InstanceMetrics } from './plugins/metrics.ts'
import monitoringRoutes from './monitoring/routes.ts'
import mailer from './mail/mailer.ts'
import accounts from './accounts/plugin.ts'
import accountRoutes from './accounts/routes/index.ts'
import scheduleRoutes from './schedules/routes.ts'
import jobs from './jobs/plugin.ts'
import adminJobs from './jobs/admin.ts'
import systemRoutes from './routes/system.ts'
import spa from './spa.ts'
import type { Logger } from './logger.ts'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
  }
}

export interface AppDeps {
  config: Config
  databaseUrl: string
  db: Db
  boss: PgBoss
  log: Logger
  metrics: InstanceMetrics
}

const REQUEST_ID = /^[\w.:@-]{1,128}$/

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config } = deps
  const options: FastifyServerOptions = {
    loggerInstance: deps.log,
    bodyLimit: config.bodyLimit,
    trustProxy: config.trustProxy,
    // One mechanism for the optional trailing slash on every route.
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true },
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id']
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID()
    },
    // On close: answer new requests 503, drop idle keep-alive sockets, let in-flight ones finish.
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  }
  const app = Fastify(options).withTypeProvider<TypeBoxTypeProvider>()
  app.decorate('config', config)
  app.setValidatorCompiler(validatorCompiler as never)
  registerErrorHandler(app)
  const routes = trackRoutes(app)

  // JSON bodies: an empty body is an empty object (as DRF's request.data), bad JSON is a DRF 400.
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = (body as string).trim()
    if (text === '') return done(null, {})
    try {
      done(null, JSON.parse(text))
    } catch (err) {
      done(new HttpError(400, { detail: `JSON parse error - ${(err as Error).message}` }), undefined)
    }
  })
  // A POST without a body is an empty form: validation then names each missing field.
  app.addHook('preValidation', async (request) => {
    if (request.body === undefined && ['POST', 'PUT', 'PATCH'].includes(request.method)) request.body = {}
  })
  // While closing, responses ask keep-alive clients to hang up, so no idle socket holds the
  // shutdown for the keep-alive timeout.
  let closing = false
  app.addHook('preClose', async () => {
    closing = true
  })
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id)
    if (closing) reply.header('connection', 'close')
  })

  // External wrappers, then our services, then routes: each registered after what it uses.
  await app.register(security)
  await app.register(openapi)
  await app.register(database, { db: deps.db, databaseUrl: deps.databaseUrl })
  await app.register(boss, { boss: deps.boss })
  await app.register(features)
  await app.register(events)
  await app.register(mailer)
  await app.register(accounts)
  await app.register(metrics, { metrics: deps.metrics })
  await app.register(accountRoutes)
  await app.register(scheduleRoutes)
  await app.register(jobs)
  await app.register(adminJobs)
  await app.register(monitoringRoutes)
  await app.register(systemRoutes)
  await app.register(spa)

  app.setNotFoundHandler(async (request, reply) => {
    const allowed = routes.allowedMethods(request.url)
    if (allowed.length > 0) throw methodNotAllowed(request.method, allowed)
    if (request.method === 'GET' && !request.url.startsWith('/api')) return reply.spa()
    throw notFound()
  })
  return app
}
