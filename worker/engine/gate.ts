// The queue controls' half in the engine: how many jobs of a feature one claim may take. Runs first in
// the claim transaction (attempts.ts claimAttempts), before pg-boss's fetch:
// - the feature's settings row is read FOR SHARE: a pause or limit change (an UPDATE of that row)
//   waits for claims in flight and every later claim sees it, so after a pause commits nothing of
//   that feature starts on any instance;
// - with a limit, claims of that feature are serialised by a transaction-level advisory lock, and the
//   feature's processing attempts are counted after taking it: the previous holder's claims are
//   committed by then, so two instances cannot exceed the limit together. Unlimited features take no
//   advisory lock and their claims run in parallel as before.
import { sql } from 'kysely'
import type { Executor } from '../../db/index.ts'

// First key of the two-key advisory locks (a key space apart from the single-key setup lock).
const LOCK_CLASS = 0x636f6e76 // "conv"

export interface Allowance {
  feature: string
  /** Jobs this claim may take (0: paused, or at its limit). */
  allowed: number
  /** The feature has a concurrency limit: a finished attempt of it anywhere frees a slot. */
  limited: boolean
}

export async function claimAllowance(trx: Executor, feature: string, want: number): Promise<Allowance> {
  const { rows: [settings] } = await sql<{ paused: boolean; concurrency: number | null }>`
    SELECT paused, concurrency FROM feature_settings WHERE feature = ${feature} FOR SHARE`.execute(trx)
  if (!settings) return { feature, allowed: want, limited: false }
  if (settings.paused) return { feature, allowed: 0, limited: settings.concurrency !== null }
  if (settings.concurrency === null) return { feature, allowed: want, limited: false }
  await sql`SELECT pg_advisory_xact_lock(${LOCK_CLASS}::int, hashtext(${feature}))`.execute(trx)
  const { rows: [count] } = await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM processing_requests WHERE feature = ${feature} AND status = 'processing'`.execute(trx)
  return { feature, allowed: Math.max(0, Math.min(want, settings.concurrency - (count?.n ?? 0))), limited: true }
}
