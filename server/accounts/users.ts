// Users: data access and the one mapping from a row to the API's user shape.
import { sql } from 'kysely'
import type { Executor } from '../../db/index.ts'
import type { User } from '../../db/types.ts'
import { hashPassword, verifyPassword } from './passwords.ts'

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

export interface NewUserInput {
  email: string
  password: string
  name?: string
  isStaff?: boolean
  isSuperuser?: boolean
  emailVerified?: boolean
}

export async function createUser(db: Executor, input: NewUserInput): Promise<User> {
  return db.insertInto('users').values({
    email: normalizeEmail(input.email),
    password: await hashPassword(input.password),
    name: input.name ?? '',
    is_staff: input.isStaff ?? false,
    is_superuser: input.isSuperuser ?? false,
    email_verified: input.emailVerified ?? false,
  }).returningAll().executeTakeFirstOrThrow()
}

/** Creates the superuser, or makes the existing account one and sets its password. Idempotent. */
export async function upsertSuperuser(db: Executor, email: string, password: string): Promise<{ user: User; created: boolean }> {
  const existing = await findUserByEmail(db, email)
  if (!existing) {
    const user = await createUser(db, { email, password, isStaff: true, isSuperuser: true, emailVerified: true })
    return { user, created: true }
  }
  const samePassword = await verifyPassword(password, existing.password)
  const user = await db.updateTable('users').set({
    is_staff: true,
    is_superuser: true,
    is_active: true,
    email_verified: true,
    ...(samePassword ? {} : { password: await hashPassword(password) }),
  }).where('id', '=', existing.id).returningAll().executeTakeFirstOrThrow()
  return { user, created: false }
}

/** The public shape of a user (`GET auth/user/`). */
export function toUserResponse(u: Pick<User, 'id' | 'email' | 'name' | 'is_staff' | 'date_joined'>) {
  return { pk: u.id, email: u.email, name: u.name, is_staff: u.is_staff, date_joined: u.date_joined.toISOString() }
}
