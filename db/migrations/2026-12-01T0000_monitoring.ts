// Monitoring and queue controls: per-feature settings (pause, concurrency), the live instances'
// heartbeat rows, the attempts' log lines, and the indexes the monitoring queries need.
import { sql, type Kysely } from 'kysely'

export async function up(db: Kysely<any>): Promise<void> {
  // One row per feature (made by the engine at start, or by the first pause/limit). The engine reads it
  // in every claim transaction, so a change reaches every instance on its next claim.
  await db.schema
    .createTable('feature_settings')
    .addColumn('feature', 'text', (c) => c.primaryKey())
    .addColumn('paused', 'boolean', (c) => c.notNull().defaultTo(false))
    // Most attempts of the feature processing at once across all instances; null: only the threads limit.
    .addColumn('concurrency', 'integer', (c) => c.check(sql`concurrency > 0`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute()

  // Every running instance upserts its row every few seconds; a row not seen for a while is gone.
  await db.schema
    .createTable('instances')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('threads', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('busy', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('started_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('last_seen_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute()

  // Log lines of each attempt, bounded by the engine (a cap per attempt; seq 0 is the "dropped" marker).
  await db.schema
    .createTable('job_logs')
    .addColumn('request_id', 'uuid', (c) => c.notNull().references('processing_requests.id').onDelete('cascade'))
    .addColumn('attempt', 'integer', (c) => c.notNull())
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .addColumn('level', 'text', (c) => c.notNull().check(sql`level IN ('info', 'warn', 'error')`))
    .addColumn('message', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('job_logs_pkey', ['request_id', 'attempt', 'seq'])
    .execute()

  // Monitoring: finished requests of the last hour by minute, feature and status, from the index alone.
  await sql`CREATE INDEX processing_requests_finished_idx ON processing_requests (finished_at) INCLUDE (feature, status)
    WHERE status IN ('completed', 'failed')`.execute(db)
  // Monitoring: the unfinished requests by feature and status (the queue depths), from the index alone
  // (the concurrency limit's count of a feature's processing attempts uses it too).
  await sql`CREATE INDEX processing_requests_unfinished_feature_idx ON processing_requests (feature, status) INCLUDE (job_id, created_at)
    WHERE status IN ('pending', 'processing')`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('processing_requests_unfinished_feature_idx').execute()
  await db.schema.dropIndex('processing_requests_finished_idx').execute()
  await db.schema.dropTable('job_logs').execute()
  await db.schema.dropTable('instances').execute()
  await db.schema.dropTable('feature_settings').execute()
}
