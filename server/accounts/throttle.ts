// Rate limits shared by every instance: fixed-window counters in PostgreSQL, one round trip per
// check, windows aligned on the database's clock so instances agree on them.
import { sql } from 'kysely'
import type { Executor } from '../../db/index.ts'
import type { Rate } from '../config.ts'
import { throttled } from '../http/errors.ts'

/** One counter: what is counted (`scope`), for whom (`subject`: an address, an IP), and its rate. */
export interface ThrottleRule {
  scope: string
  subject: string
  rate: Rate
}

const keyOf = (r: ThrottleRule) => `${r.scope}:${r.subject.toLowerCase()}`
// In key order: two statements upserting the same rows lock them in the same order (no deadlock).
const active = (rules: ThrottleRule[]) =>
  rules.filter((r) => r.rate.limit > 0 && r.subject !== '').sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : 1))

function values(rules: ThrottleRule[]) {
  return sql.join(rules.map((r) => sql`(${keyOf(r)}::text, ${r.rate.seconds}::int, ${r.rate.limit}::int)`))
}

interface Count { key: string; hits: number; lim: number; retry_after: number }

function retryAfter(rows: Count[]): number | null {
  const over = rows.filter((r) => r.hits > r.lim)
  return over.length === 0 ? null : Math.max(...over.map((r) => Number(r.retry_after)))
}

/**
 * Counts one event against every rule and decides on the counted value, in one statement: returns
 * the seconds to wait when a rule is now over its limit, else null. Atomic under concurrency and
 * across instances (INSERT ... ON CONFLICT DO UPDATE ... RETURNING): of N simultaneous attempts
 * against a limit L, exactly L get null. Never check first and count afterwards: every attempt
 * in flight between the check and the count would pass.
 */
export async function hit(db: Executor, rules: ThrottleRule[]): Promise<number | null> {
  const list = active(rules)
  if (list.length === 0) return null
  const { rows } = await sql<Count>`
    WITH v(key, seconds, lim) AS (VALUES ${values(list)}),
    w AS (SELECT key, lim, to_timestamp(floor(extract(epoch FROM now()) / seconds) * seconds) AS start, seconds FROM v),
    up AS (
      INSERT INTO auth_throttles (key, window_start, hits, expires_at)
      SELECT key, start, 1, start + make_interval(secs => seconds) FROM w
      ON CONFLICT (key, window_start) DO UPDATE SET hits = auth_throttles.hits + 1
      RETURNING key, hits, expires_at
    )
    SELECT up.key, up.hits, w.lim, ceil(extract(epoch FROM up.expires_at - now()))::int AS retry_after
    FROM up JOIN w USING (key)`.execute(db)
  return retryAfter(rows)
}

/**
 * Takes back one event counted by hit() (a login that turned out right must not count as a failure
 * of its client). Only the current window's row, never below zero.
 */
export async function refund(db: Executor, rules: ThrottleRule[]): Promise<void> {
  const list = active(rules)
  if (list.length === 0) return
  await sql`
    UPDATE auth_throttles SET hits = greatest(hits - 1, 0)
    WHERE key IN (${sql.join(list.map(keyOf))}) AND window_start <= now() AND expires_at > now()`.execute(db)
}

/** Forgets the counters of these rules (a successful login clears its address's failures). */
export async function reset(db: Executor, rules: ThrottleRule[]): Promise<void> {
  const list = active(rules)
  if (list.length === 0) return
  await db.deleteFrom('auth_throttles').where('key', 'in', list.map(keyOf)).execute()
}

/** hit() that throws the 429 itself: call it before the work it limits. */
export async function enforce(db: Executor, rules: ThrottleRule[]): Promise<void> {
  const wait = await hit(db, rules)
  if (wait !== null) throw throttled(wait)
}
