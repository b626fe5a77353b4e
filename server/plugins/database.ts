// Service plugin: the application's database (Kysely on the pg pool) and the URL actually used.
import fp from 'fastify-plugin'
import type { Db } from '../../db/index.ts'
import { preparedDb } from '../../db/prepared.ts'

declare module 'fastify' {
  interface FastifyInstance {
    db: Db
    /**
     * The same pool, with named statements (db/prepared.ts): for the API's few hot reads of a fixed
     * shape (a request's status), which PostgreSQL then parses and plans once per connection.
     */
    hotDb: Db
    /** The database actually used: for connections of their own, such as LISTEN. */
    databaseUrl: string
  }
}

export default fp<{ db: Db; databaseUrl: string }>(async (app, { db, databaseUrl }) => {
  app.decorate('db', db)
  app.decorate('hotDb', preparedDb(db) ?? db)
  app.decorate('databaseUrl', databaseUrl)
}, { name: 'database' })
