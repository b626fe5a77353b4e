// The HTTP side of a worker-only instance (`--role worker`): GET /healthz and /readyz on PORT and
// nothing else (API.md), so orchestrators and the image's HEALTHCHECK probe every role the same way.
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { Kysely } from 'kysely'
import type { Engine } from '../worker/index.ts'
import { notFound, registerErrorHandler } from './http/errors.ts'
import type { Logger } from './logger.ts'
import healthRoutes from './routes/health.ts'

export async function buildWorkerApp(deps: { db: Kysely<any>; engine: Pick<Engine, 'stats'> | null; log: Logger }): Promise<FastifyInstance> {
  const options: FastifyServerOptions = { loggerInstance: deps.log, return503OnClosing: true, forceCloseConnections: true }
  const app = Fastify(options)
  registerErrorHandler(app)
  await app.register(healthRoutes, { db: deps.db, engine: deps.engine })
  app.setNotFoundHandler(async () => {
    throw notFound()
  })
  return app
}
