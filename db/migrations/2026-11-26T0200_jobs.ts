// Job engine: processing requests, their results, and the NOTIFY that feeds live status and wakes workers.
import { sql, type Kysely } from 'kysely'

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('processing_requests')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('owner_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('feature', 'text', (c) => c.notNull())
    .addColumn('input', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    // The uploaded file, if any: {name, size, content_type}; its bytes live under MEDIA_ROOT/<id>/input/.
    .addColumn('upload', 'jsonb')
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('pending')
      .check(sql`status IN ('pending', 'processing', 'completed', 'failed', 'cancelled')`))
    .addColumn('progress', 'smallint', (c) => c.notNull().defaultTo(0).check(sql`progress BETWEEN 0 AND 100`))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('error_message', 'text')
    // The pg-boss job of the current attempt; each attempt is its own job.
    .addColumn('job_id', 'uuid')
    // No foreign key yet: the schedules issue adds the schedules table.
    .addColumn('schedule_id', 'uuid')
    .addColumn('idempotency_key', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('started_at', 'timestamptz')
    .addColumn('finished_at', 'timestamptz')
    .execute()
  await db.schema.createIndex('processing_requests_owner_idempotency_key').unique()
    .on('processing_requests').columns(['owner_id', 'idempotency_key']).execute()
  await db.schema.createIndex('processing_requests_owner_created_idx')
    .on('processing_requests').columns(['owner_id', 'created_at desc']).execute()
  await db.schema.createIndex('processing_requests_owner_feature_created_idx')
    .on('processing_requests').columns(['owner_id', 'feature', 'created_at desc']).execute()
  // Reconciliation scans only the unfinished requests.
  await sql`CREATE INDEX processing_requests_unfinished_idx ON processing_requests (status)
    WHERE status IN ('pending', 'processing')`.execute(db)

  await db.schema
    .createTable('processing_results')
    .addColumn('request_id', 'uuid', (c) => c.primaryKey().references('processing_requests.id').onDelete('cascade'))
    .addColumn('data', 'jsonb', (c) => c.notNull())
    // [{name, size, content_type}]; the files live under MEDIA_ROOT/<request id>/output/.
    .addColumn('files', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute()

  // Every status or progress change is announced, whoever writes it (API, engine, admin, another
  // instance): live status and worker wake-ups both listen on this one channel.
  await sql`
    CREATE FUNCTION processing_requests_notify() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      iso CONSTANT text := 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"';
    BEGIN
      PERFORM pg_notify('conveyor_requests', json_build_object(
        'id', NEW.id, 'owner_id', NEW.owner_id, 'feature', NEW.feature, 'status', NEW.status,
        'progress', NEW.progress, 'error_message', NEW.error_message, 'attempts', NEW.attempts,
        'schedule_id', NEW.schedule_id,
        'created_at', to_char(NEW.created_at AT TIME ZONE 'UTC', iso),
        'started_at', to_char(NEW.started_at AT TIME ZONE 'UTC', iso),
        'finished_at', to_char(NEW.finished_at AT TIME ZONE 'UTC', iso))::text);
      RETURN NULL;
    END $$`.execute(db)
  await sql`CREATE TRIGGER processing_requests_notify_insert AFTER INSERT ON processing_requests
    FOR EACH ROW EXECUTE FUNCTION processing_requests_notify()`.execute(db)
  await sql`CREATE TRIGGER processing_requests_notify_update AFTER UPDATE ON processing_requests
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.progress IS DISTINCT FROM NEW.progress
      OR OLD.attempts IS DISTINCT FROM NEW.attempts)
    EXECUTE FUNCTION processing_requests_notify()`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('processing_results').execute()
  await db.schema.dropTable('processing_requests').execute()
  await sql`DROP FUNCTION processing_requests_notify()`.execute(db)
}
