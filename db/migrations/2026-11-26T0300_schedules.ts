// Schedules: cron-style periodic creation of processing requests (the original's beat tasks).
import { sql, type Kysely } from 'kysely'

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('schedules')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('feature', 'text', (c) => c.notNull())
    .addColumn('cron', 'text', (c) => c.notNull())
    .addColumn('timezone', 'text', (c) => c.notNull().defaultTo('UTC'))
    .addColumn('input', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('enabled', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
    // The user the created requests belong to; their schedules go with them.
    .addColumn('owner_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('last_run_at', 'timestamptz')
    .addColumn('total_run_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute()
  await db.schema.alterTable('processing_requests')
    .addForeignKeyConstraint('processing_requests_schedule_id_fkey', ['schedule_id'], 'schedules', ['id'], (c) => c.onDelete('set null'))
    .execute()
  await db.schema.createIndex('processing_requests_schedule_id_idx').on('processing_requests').column('schedule_id').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('processing_requests').dropConstraint('processing_requests_schedule_id_fkey').execute()
  await db.schema.dropIndex('processing_requests_schedule_id_idx').execute()
  await db.schema.dropTable('schedules').execute()
}
