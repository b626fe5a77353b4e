// Accounts: rate-limit counters shared by every instance (fixed windows, one row per key and window).
import { sql, type Kysely } from 'kysely'

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('auth_throttles')
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('window_start', 'timestamptz', (c) => c.notNull())
    .addColumn('hits', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('auth_throttles_pkey', ['key', 'window_start'])
    .execute()
  await db.schema.createIndex('auth_throttles_expires_at_idx').on('auth_throttles').column('expires_at').execute()
  // Counters are rewritten on every failed login: keep pages with room for HOT updates.
  await sql`ALTER TABLE auth_throttles SET (fillfactor = 70)`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('auth_throttles').execute()
}
