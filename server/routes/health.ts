// Liveness and readiness: registered by the full app and by the worker-only instance's tiny app,
// so every role answers the same probes (API.md "worker-only instances").
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { sql, type Kysely } from 'kysely'
import { pendingMigrations } from '../../db/migrate.ts'
import { liveThreads, type Engine } from '../../worker/index.ts'

const EngineStatus = Type.Object({ threads: Type.Integer(), alive: Type.Integer(), busy: Type.Integer() })
const Status = Type.Object({ status: Type.String(), reason: Type.Optional(Type.String()), engine: Type.Optional(EngineStatus) })

export interface HealthOptions {
  db: Kysely<any>
  /** The job engine of this instance, when it runs jobs: readiness then also needs live threads. */
  engine?: Pick<Engine, 'stats'> | null
}

/** Resolves with `fn()` or rejects after `ms`: readiness must answer even when the database hangs. */
function within<T>(ms: number, fn: () => Promise<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)
    fn().then(resolve, reject).finally(() => clearTimeout(timer))
  })
}

const healthRoutes: FastifyPluginAsyncTypebox<HealthOptions> = async (app, { db, engine }) => {
  app.get('/healthz', { schema: { tags: ['system'], summary: 'Liveness', response: { 200: Status } }, logLevel: 'warn' },
    async () => ({ status: 'ok' }))

  // Migrations are checked once they are all seen applied; after that only the database is asked.
  let migrationsApplied = false
  app.get('/readyz', {
    schema: {
      tags: ['system'],
      summary: 'Readiness: database reachable and migrated (and, where jobs run, the job engine\'s threads alive)',
      response: { 200: Status, 503: Status },
    },
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
    if (!engine) return { status: 'ok' }
    const { threads, busy } = engine.stats()
    const status = { threads, alive: Math.min(liveThreads(), threads), busy }
    if (status.alive === 0) return reply.code(503).send({ status: 'unavailable', reason: 'job engine: no worker thread alive', engine: status })
    return { status: 'ok', engine: status }
  })
}

export default healthRoutes
