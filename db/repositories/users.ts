// Users: the lookups every layer may need (accounts, schedules' owner checks, seeds).
import { sql } from 'kysely'
import type { Executor } from '../index.ts'
import type { User } from '../types.ts'

/** E-mail as stored: trimmed, domain lower-cased (the local part is kept, as Django does). */
export function normalizeEmail(email: string): string {
  const trimmed = email.trim()
  const at = trimmed.lastIndexOf('@')
  return at < 0 ? trimmed : `${trimmed.slice(0, at)}@${trimmed.slice(at + 1).toLowerCase()}`
}

export function findUserByEmail(db: Executor, email: string): Promise<User | undefined> {
  return db.selectFrom('users').selectAll().where(sql<string>`lower(email)`, '=', normalizeEmail(email).toLowerCase()).executeTakeFirst()
}

export function findUserById(db: Executor, id: number): Promise<User | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst()
}
