// Social login: the OpenID Connect identities linked to users, one per provider and subject.
import { sql, type Kysely } from 'kysely'

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('social_accounts')
    .addColumn('id', 'integer', (c) => c.primaryKey().generatedByDefaultAsIdentity())
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    // The configured provider id (OIDC_PROVIDERS) and the provider's `sub`: together, one person there.
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    // The e-mail the provider gave at the last sign-in, for the profile page only (never for lookups).
    .addColumn('email', 'text')
    .addColumn('date_joined', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('last_login', 'timestamptz')
    .addUniqueConstraint('social_accounts_provider_subject_key', ['provider', 'subject'])
    // One account per provider and user, so "unlink google" names one row.
    .addUniqueConstraint('social_accounts_user_provider_key', ['user_id', 'provider'])
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('social_accounts').execute()
}
