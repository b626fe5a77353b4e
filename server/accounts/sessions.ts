// Server-side sessions: every API key (a signed JWT) names one session row, so deleting the row
// revokes the key at once, on every instance (each revocation NOTIFYs the instances' session caches).
import { randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import type { Executor } from '../../db/index.ts'

/** The PostgreSQL channel on which session and user changes are announced to every instance. */
export const AUTH_CHANNEL = 'conveyor_auth'

/** What changed: these sessions are gone, or these users changed (or lost sessions). */
export interface AuthChange {
  sessions?: string[]
  users?: number[]
}

/** The user behind a session, as `request.user` carries it. */
export interface SessionUser {
  id: number
  email: string
  name: string
  is_staff: boolean
  is_superuser: boolean
  date_joined: Date
  session_id: string
}

/**
 * Tells every instance (this one too) to drop what it cached about these sessions or users. Inside a
 * transaction PostgreSQL delivers it at commit, so no instance can reload the old state before then.
 */
export async function notifyAuthChange(db: Executor, change: AuthChange): Promise<void> {
  await sql`SELECT pg_notify(${AUTH_CHANNEL}, ${JSON.stringify(change)})`.execute(db)
}

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
export function findSessionUser(db: Executor, sessionId: string): Promise<(SessionUser & { expires_at: Date }) | undefined> {
  return db.selectFrom('sessions as s')
    .innerJoin('users as u', 'u.id', 's.user_id')
    .select(['u.id', 'u.email', 'u.name', 'u.is_staff', 'u.is_superuser', 'u.date_joined', 's.id as session_id', 's.expires_at'])
    .where('s.id', '=', sessionId)
    .where('s.expires_at', '>', new Date())
    .where('u.is_active', '=', true)
    .executeTakeFirst()
}

/** Deletes the session and announces it, in one statement. */
export async function revokeSession(db: Executor, sessionId: string): Promise<void> {
  const change: AuthChange = { sessions: [sessionId] }
  await sql`WITH gone AS (DELETE FROM sessions WHERE id = ${sessionId})
    SELECT pg_notify(${AUTH_CHANNEL}, ${JSON.stringify(change)})`.execute(db)
}

/** Revokes every session of a user but `keep` (password change keeps the current one), and announces it. */
export async function revokeUserSessions(db: Executor, userId: number, keep?: string): Promise<void> {
  const change: AuthChange = { users: [userId] }
  await sql`WITH gone AS (DELETE FROM sessions WHERE user_id = ${userId} AND id IS DISTINCT FROM ${keep ?? null}::uuid)
    SELECT pg_notify(${AUTH_CHANNEL}, ${JSON.stringify(change)})`.execute(db)
}
