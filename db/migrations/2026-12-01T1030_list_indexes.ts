// Indexes for every list and filter path, read off their plans on 100,000 requests (bench/explain.ts):
// each list orders by (created_at, id) — the id breaks ties so pages never overlap — so each index
// ends with both, in that order, and serves either direction; its INCLUDE column lets the page's
// count be an index-only scan under the other filter. The staff lists (every owner) get their own.
// Two rarely-set columns get partial indexes: most rows have neither key, and a partial index
// costs nothing on the insert and the status updates of a row outside it (each job writes its row
// three times, and a status change is never a HOT update).
import { sql, type Kysely } from 'kysely'

export async function up(db: Kysely<any>): Promise<void> {
  // The user's lists: GET <feature>/list/ and jobs/list/ (and staff's ?user=).
  await sql`DROP INDEX processing_requests_owner_created_idx`.execute(db)
  await sql`CREATE INDEX processing_requests_owner_created_idx
    ON processing_requests (owner_id, created_at DESC, id DESC) INCLUDE (feature, status)`.execute(db)
  await sql`DROP INDEX processing_requests_owner_feature_created_idx`.execute(db)
  await sql`CREATE INDEX processing_requests_owner_feature_created_idx
    ON processing_requests (owner_id, feature, created_at DESC, id DESC) INCLUDE (status)`.execute(db)
  // ?status= on a user's list: a rare status (failed, processing) without walking all of them.
  await sql`CREATE INDEX processing_requests_owner_status_created_idx
    ON processing_requests (owner_id, status, created_at DESC, id DESC) INCLUDE (feature)`.execute(db)
  // Staff: GET admin/jobs/ unfiltered, and by status (which also serves the reconciliation's
  // scan of unfinished requests, the job of the partial index it replaces).
  await sql`CREATE INDEX processing_requests_created_idx ON processing_requests (created_at DESC, id DESC)`.execute(db)
  await sql`DROP INDEX processing_requests_unfinished_idx`.execute(db)
  await sql`CREATE INDEX processing_requests_status_created_idx
    ON processing_requests (status, created_at DESC, id DESC) INCLUDE (feature)`.execute(db)
  await sql`CREATE INDEX processing_requests_feature_created_idx
    ON processing_requests (feature, created_at DESC, id DESC) INCLUDE (status)`.execute(db)
  // Same uniqueness (NULL keys never clashed), same 23505 for a reused key; lookups give the key.
  await sql`DROP INDEX processing_requests_owner_idempotency_key`.execute(db)
  await sql`CREATE UNIQUE INDEX processing_requests_owner_idempotency_key
    ON processing_requests (owner_id, idempotency_key) WHERE idempotency_key IS NOT NULL`.execute(db)
  // For the foreign key's ON DELETE SET NULL (WHERE schedule_id = $1): only scheduled rows.
  await sql`DROP INDEX processing_requests_schedule_id_idx`.execute(db)
  await sql`CREATE INDEX processing_requests_schedule_id_idx ON processing_requests (schedule_id) WHERE schedule_id IS NOT NULL`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const name of ['owner_created_idx', 'owner_feature_created_idx', 'owner_status_created_idx', 'created_idx', 'status_created_idx',
    'feature_created_idx', 'owner_idempotency_key', 'schedule_id_idx']) {
    await sql.raw(`DROP INDEX processing_requests_${name}`).execute(db)
  }
  await sql`CREATE INDEX processing_requests_owner_created_idx ON processing_requests (owner_id, created_at DESC)`.execute(db)
  await sql`CREATE INDEX processing_requests_owner_feature_created_idx ON processing_requests (owner_id, feature, created_at DESC)`.execute(db)
  await sql`CREATE INDEX processing_requests_unfinished_idx ON processing_requests (status) WHERE status IN ('pending', 'processing')`.execute(db)
  await sql`CREATE UNIQUE INDEX processing_requests_owner_idempotency_key ON processing_requests (owner_id, idempotency_key)`.execute(db)
  await sql`CREATE INDEX processing_requests_schedule_id_idx ON processing_requests (schedule_id)`.execute(db)
}
