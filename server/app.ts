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
import { lazyRequestLogger } from './http/request-logger.ts'
import { registerInputSafety } from './http/input-safety.ts'
import { trackRoutes } from './http/method-not-allowed.ts'
import { lazyCompilers, type LazyCompilers } from './http/lazy-compilers.ts'
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
import adminUsers from './admin/users.ts'
import adminJobs from './admin/jobs.ts'
import adminAudit from './admin/audit.ts'
import systemRoutes from './routes/system.ts'
import healthRoutes from './routes/health.ts'
import spa, { isMissingFile } from './spa.ts'
import type { Logger } from './logger.ts'
import type { Engine } from '../worker/index.ts'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
    /** Route schemas compile on first use (http/lazy-compilers.ts): how many have not, and compile them all now. */
    schemaCompilation: Pick<LazyCompilers, 'compileAll' | 'pending'>
  }
}

export interface AppDeps {
  config: Config
  databaseUrl: string
  db: Db
  boss: PgBoss
  log: Logger
  /** This instance's job engine (role all): /readyz then reports it. */
  engine?: Pick<Engine, 'stats'> | null
  metrics: InstanceMetrics
}

const REQUEST_ID = /^[\w.:@-]{1,128}$/
const UUID_ANY_CASE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Why the secure parser refused a text: JSON.parse's own message, or the poisoning it found. */
function jsonProblem(text: string): string {
  try {
    JSON.parse(text)
    return 'Object contains forbidden prototype property'
  } catch (err) {
    return (err as Error).message
  }
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config } = deps
  const lazy = lazyCompilers()
  const options: FastifyServerOptions = {
    loggerInstance: deps.log,
    // request.log is made on the request's first log line (request-logger.ts).
    childLoggerFactory: lazyRequestLogger,
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
    // Response serializers compiled on each route's first response, not all at start-up.
    schemaController: { compilersFactory: { buildSerializer: lazy.serializerFactory } },
  }
  const app = Fastify(options).withTypeProvider<TypeBoxTypeProvider>()
  app.decorate('config', config)
  app.decorate('schemaCompilation', { compileAll: lazy.compileAll, pending: lazy.pending })
  // Validators likewise compiled on each route's first request.
  app.setValidatorCompiler(lazy.validator(validatorCompiler) as never)
  registerErrorHandler(app)
  const routes = trackRoutes(app)

  // JSON bodies: an empty body is an empty object (as DRF's request.data), bad JSON is a DRF 400,
  // and a `__proto__` or `constructor.prototype` key is refused as Fastify's own parser does
  // (prototype poisoning), with Fastify's secure parser doing the parse.
  const secureJsonParse = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = (body as string).trim()
    if (text === '') return done(null, {})
    secureJsonParse(request, text, (err, value) => {
      if (!err) return done(null, value)
      done(new HttpError(400, { detail: `JSON parse error - ${jsonProblem(text)}` }), undefined)
    })
  })
  registerInputSafety(app) // NUL, lone surrogates, absurd nesting: refused before any handler
  // A POST without a body is an empty form: validation then names each missing field.
  app.addHook('preValidation', (request, _reply, done) => {
    if (request.body === undefined && ['POST', 'PUT', 'PATCH'].includes(request.method)) request.body = {}
    // A UUID in capitals names the same row, and must name the same folder and pg-boss key too.
    const params = request.params as Record<string, unknown> | undefined
    if (typeof params?.id === 'string' && UUID_ANY_CASE.test(params.id)) params.id = params.id.toLowerCase()
    done()
  })
  // While closing, responses ask keep-alive clients to hang up, so no idle socket holds the
  // shutdown for the keep-alive timeout.
  let closing = false
  app.addHook('preClose', async () => {
    closing = true
  })
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-request-id', request.id)
    if (closing) reply.header('connection', 'close')
    done(null, payload)
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
  await app.register(adminUsers)
  await app.register(adminJobs)
  await app.register(adminAudit)
  await app.register(monitoringRoutes)
  await app.register(systemRoutes)
  await app.register(healthRoutes, { db: deps.db, engine: deps.engine ?? null })
  await app.register(spa)

  app.setNotFoundHandler(async (request, reply) => {
    // A route of this method that found nothing (the assets' wildcard, spa.ts) is a 404, not a 405.
    const allowed = routes.allowedMethods(request.url)
    if (allowed.length > 0 && !allowed.includes(request.method)) throw methodNotAllowed(request.method, allowed)
    if (request.method === 'GET' && !request.url.startsWith('/api') && !isMissingFile(request.url)) return reply.spa()
    throw notFound()
  })
  return app
}
