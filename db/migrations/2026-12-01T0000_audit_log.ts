// The audit log: one row per staff write (users, jobs, schedules, …), written in the same
// transaction as the change it records. Entries outlive their actor and their object: no foreign keys,
// the actor's e-mail is copied at the time of the write.
import { sql, type Kysely } from 'kysely'

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('audit_log')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('actor_id', 'integer')
    .addColumn('actor_email', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('object_type', 'text', (c) => c.notNull())
    .addColumn('object_id', 'text', (c) => c.notNull())
    .addColumn('changes', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .execute()
  // Newest first (id descending: the primary key's index) is the only order; each filter walks its index in that order.
  await db.schema.createIndex('audit_log_actor_idx').on('audit_log').columns(['actor_id', 'id desc']).execute()
  await db.schema.createIndex('audit_log_action_idx').on('audit_log').columns(['action', 'id desc']).execute()
  await db.schema.createIndex('audit_log_object_idx').on('audit_log').columns(['object_type', 'object_id', 'id desc']).execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('audit_log').execute()
}
