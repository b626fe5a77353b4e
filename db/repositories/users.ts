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

// ---- the staff API's list (Django admin's user list) ----

export type UserOrdering = 'email' | 'date_joined' | 'last_login'

export interface UserFilter {
  /** Part of the e-mail or the name, any case. */
  search?: string
  isActive?: boolean
  isStaff?: boolean
}

function filteredUsers(db: Executor, f: UserFilter) {
  let q = db.selectFrom('users')
  if (f.search) {
    const like = `%${f.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`
    q = q.where((eb) => eb.or([eb('email', 'ilike', like), eb('name', 'ilike', like)]))
  }
  if (f.isActive !== undefined) q = q.where('is_active', '=', f.isActive)
  if (f.isStaff !== undefined) q = q.where('is_staff', '=', f.isStaff)
  return q
}

export async function countUsers(db: Executor, f: UserFilter): Promise<number> {
  const { n } = await filteredUsers(db, f).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
  return n
}

/** One page of users; ties (and never-logged-in users, last for ascending as PostgreSQL sorts NULLs) break by pk. */
export function listUsers(db: Executor, f: UserFilter, order: { by: UserOrdering; descending: boolean }, page: { limit: number; offset: number }): Promise<User[]> {
  const direction = order.descending ? 'desc' : 'asc'
  return filteredUsers(db, f).selectAll().orderBy(order.by, direction).orderBy('id', direction).limit(page.limit).offset(page.offset).execute()
}

/** Inserts a user whose password is already hashed (or unusable); the e-mail is normalised here. */
export function insertUser(db: Executor, values: { email: string; name: string; password: string; is_staff: boolean; email_verified?: boolean }): Promise<User> {
  return db.insertInto('users').values({ ...values, email: normalizeEmail(values.email) }).returningAll().executeTakeFirstOrThrow()
}

/** The user, locked until the end of the transaction (staff edits and deletes serialise on it). */
export function lockUser(db: Executor, id: number): Promise<User | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).forUpdate().executeTakeFirst()
}

export async function deleteUserRow(db: Executor, id: number): Promise<boolean> {
  const r = await db.deleteFrom('users').where('id', '=', id).executeTakeFirst()
  return Number(r.numDeletedRows) > 0
}
