// Service plugin: pg-boss, the queue and cron scheduler (opened and stopped by server/services.ts).
import fp from 'fastify-plugin'
import type { PgBoss } from 'pg-boss'

declare module 'fastify' {
  interface FastifyInstance {
    boss: PgBoss
  }
}

export default fp<{ boss: PgBoss }>(async (app, { boss }) => {
  app.decorate('boss', boss)
}, { name: 'boss', dependencies: ['database'] })
