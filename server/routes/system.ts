// System endpoints: version, liveness and readiness.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { sql } from 'kysely'
import { pendingMigrations } from '../../db/migrate.ts'

export const VersionInfoSchema = Type.Object({
  version: Type.String(),
  environment: Type.String(),
  commit: Type.String(),
})

const Status = Type.Object({ status: Type.String(), reason: Type.Optional(Type.String()) })

/** Resolves with `fn()` or rejects after `ms`: readiness must answer even when the database hangs. */
function within<T>(ms: number, fn: () => Promise<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)
    fn().then(resolve, reject).finally(() => clearTimeout(timer))
  })
}

const systemRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { config, db } = app
  app.get('/api/v1/version-info/', {
    schema: { tags: ['system'], summary: 'Version of this deployment', response: { 200: VersionInfoSchema } },
  }, async () => ({ version: config.version, environment: config.env, commit: config.commit }))

  app.get('/healthz', { schema: { tags: ['system'], summary: 'Liveness', response: { 200: Status } }, logLevel: 'warn' },
    async () => ({ status: 'ok' }))

  // Migrations are checked once they are all seen applied; after that only the database is asked.
  let migrationsApplied = false
  app.get('/readyz', {
    schema: { tags: ['system'], summary: 'Readiness: database reachable and migrated', response: { 200: Status, 503: Status } },
    logLevel: 'warn',
  }, async (_request, reply) => {
    try {
      await within(2_000, () => sql`SELECT 1`.execute(db))
    } catch (err) {
      return reply.code(503).send({ status: 'unavailable', reason: `database: ${(err as Error).message}` })
    }
    if (!migrationsApplied) {
      const pending = await within(2_000, () => pendingMigrations(db)).catch((err: Error) => [`(${err.message})`])
      if (pending.length > 0) return reply.code(503).send({ status: 'unavailable', reason: `migrations not applied: ${pending.join(', ')}` })
      migrationsApplied = true
    }
    return { status: 'ok' }
  })
}

export default systemRoutes
