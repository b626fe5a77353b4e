// Server-side sessions: every API key (a signed JWT) names one session row, so deleting the row
// revokes the key at once, on every instance.
import { randomUUID } from 'node:crypto'
import type { Executor } from '../../db/index.ts'

export interface SessionMeta {
  ip?: string | null
  userAgent?: string | null
}

export interface NewSession {
  id: string
  userId: number
  expiresAt: Date
}

export async function createSession(db: Executor, userId: number, ttlSeconds: number, meta: SessionMeta = {}): Promise<NewSession> {
  const id = randomUUID()
  const expiresAt = new Date(Date.now() + ttlSeconds * 1000)
  await db.insertInto('sessions').values({
    id,
    user_id: userId,
    expires_at: expiresAt,
    ip: meta.ip ?? null,
    user_agent: meta.userAgent?.slice(0, 500) ?? null,
  }).execute()
  await db.updateTable('users').set({ last_login: new Date() }).where('id', '=', userId).execute()
  return { id, userId, expiresAt }
}

/** The user behind a live session, or undefined when the session is gone, expired or the user inactive. */
export function findSessionUser(db: Executor, sessionId: string) {
  return db.selectFrom('sessions as s')
    .innerJoin('users as u', 'u.id', 's.user_id')
    .select(['u.id', 'u.email', 'u.name', 'u.is_staff', 'u.is_superuser', 'u.date_joined', 's.id as session_id', 's.expires_at'])
    .where('s.id', '=', sessionId)
    .where('s.expires_at', '>', new Date())
    .where('u.is_active', '=', true)
    .executeTakeFirst()
}

export async function revokeSession(db: Executor, sessionId: string): Promise<void> {
  await db.deleteFrom('sessions').where('id', '=', sessionId).execute()
}

/** Revokes every session of a user but `keep` (password change keeps the current one). */
export async function revokeUserSessions(db: Executor, userId: number, keep?: string): Promise<void> {
  let q = db.deleteFrom('sessions').where('user_id', '=', userId)
  if (keep) q = q.where('id', '!=', keep)
  await q.execute()
}

export async function deleteExpiredSessions(db: Executor): Promise<number> {
  const r = await db.deleteFrom('sessions').where('expires_at', '<=', new Date()).executeTakeFirst()
  return Number(r.numDeletedRows)
}
