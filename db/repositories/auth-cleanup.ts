// Housekeeping for the accounts tables: expired sessions and finished throttle windows. Cheap and
// idempotent; meant to run from a periodic job.
import type { Executor } from '../index.ts'

export interface AuthCleanup {
  sessions: number
  throttles: number
}

/** Deletes expired sessions and throttle counters whose window has ended; returns how many of each. */
export async function deleteExpiredAuthData(db: Executor, now = new Date()): Promise<AuthCleanup> {
  // Expired sessions already fail (caches check expiry too), so deleting them needs no announcement.
  const gone = await db.deleteFrom('sessions').where('expires_at', '<=', now).executeTakeFirst()
  const sessions = Number(gone.numDeletedRows)
  const r = await db.deleteFrom('auth_throttles').where('expires_at', '<=', now).executeTakeFirst()
  return { sessions, throttles: Number(r.numDeletedRows) }
}
