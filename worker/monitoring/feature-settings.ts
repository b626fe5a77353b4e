// Queue controls: a feature paused (nothing of it starts on any instance) or limited (most attempts
// processing at once across all instances). Rows of feature_settings, read by every engine inside its
// claim transaction (worker/engine/gate.ts), so a change holds from the moment it commits; a NOTIFY
// in the same transaction wakes every engine for a resume or a raised limit.
//
// The writes take the caller's transaction, so whoever calls them can record an audit entry in it.
import { sql } from 'kysely'
import type { Executor } from '../../db/index.ts'
import { REQUESTS_CHANNEL } from '../requests/events.ts'

export interface FeatureSettings {
  feature: string
  paused: boolean
  concurrency: number | null
}

/** Makes sure every feature has its row, so that every claim finds one to lock (idempotent). */
export async function ensureFeatureSettings(db: Executor, features: string[]): Promise<void> {
  if (features.length === 0) return
  await db.insertInto('feature_settings').values(features.map((feature) => ({ feature })))
    .onConflict((oc) => oc.column('feature').doNothing()).execute()
}

export async function readFeatureSettings(db: Executor): Promise<Map<string, FeatureSettings>> {
  const rows = await db.selectFrom('feature_settings').select(['feature', 'paused', 'concurrency']).execute()
  return new Map(rows.map((r) => [r.feature, r]))
}

async function write(trx: Executor, feature: string, change: { paused?: boolean; concurrency?: number | null }): Promise<FeatureSettings> {
  const row = await trx.insertInto('feature_settings').values({ feature, ...change })
    .onConflict((oc) => oc.column('feature').doUpdateSet({ ...change, updated_at: sql<Date>`now()` }))
    .returning(['feature', 'paused', 'concurrency']).executeTakeFirstOrThrow()
  // Delivered at commit, to every instance's listener (the engines wake up and fetch).
  await sql`SELECT pg_notify(${REQUESTS_CHANNEL}, ${JSON.stringify({ settings: row })})`.execute(trx)
  return row
}

/** Pauses or resumes a feature, in the caller's transaction. */
export const setFeaturePaused = (trx: Executor, feature: string, paused: boolean): Promise<FeatureSettings> =>
  write(trx, feature, { paused })

/** Sets the feature's concurrency limit (null: none beyond the threads), in the caller's transaction. */
export const setFeatureConcurrency = (trx: Executor, feature: string, concurrency: number | null): Promise<FeatureSettings> =>
  write(trx, feature, { concurrency })
