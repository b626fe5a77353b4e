// Users: data access and the one mapping from a row to the API's user shape.
import type { Executor } from '../../db/index.ts'
import type { User } from '../../db/types.ts'
import { findUserByEmail, findUserById, normalizeEmail } from '../../db/repositories/users.ts'
import { hashPassword, makeUnusablePassword, verifyPassword } from './passwords.ts'
import { notifyAuthChange } from './sessions.ts'

// Lookups live in db/ (the schedules' checks need them too); the writes that hash passwords live here.
export { findUserByEmail, findUserById, normalizeEmail }

export interface NewUserInput {
  email: string
  /** null: no usable password (the account signs in another way, e.g. social login, or after a reset). */
  password: string | null
  name?: string
  isStaff?: boolean
  isSuperuser?: boolean
  emailVerified?: boolean
}

export async function createUser(db: Executor, input: NewUserInput): Promise<User> {
  return db.insertInto('users').values({
    email: normalizeEmail(input.email),
    password: input.password === null ? makeUnusablePassword() : await hashPassword(input.password),
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

/** The fields of a user that change without touching its password. */
export interface UserChanges {
  name?: string
  is_active?: boolean
  is_staff?: boolean
  is_superuser?: boolean
}

/**
 * Changes a user and announces it, so every instance reloads the user behind its cached sessions
 * (a deactivated user's keys stop working at once). Undefined when there is no such user.
 */
export async function updateUser(db: Executor, id: number, changes: UserChanges): Promise<User | undefined> {
  const user = Object.keys(changes).length === 0
    ? await findUserById(db, id)
    : await db.updateTable('users').set(changes).where('id', '=', id).returningAll().executeTakeFirst()
  if (user) await notifyAuthChange(db, { users: [id] })
  return user
}

/** Stores a new password (hashed); revoking the user's sessions is the caller's decision. */
export async function setPassword(db: Executor, id: number, password: string): Promise<void> {
  await setPasswordHash(db, id, await hashPassword(password))
}

export async function setPasswordHash(db: Executor, id: number, hash: string): Promise<void> {
  await db.updateTable('users').set({ password: hash }).where('id', '=', id).execute()
}

/**
 * Swaps the password hash only if it is still `expected` (a reset token is valid for one password);
 * the reset link reached the mailbox, so the address counts as verified too. False when it changed.
 */
export async function replacePasswordHash(db: Executor, id: number, expected: string, hash: string): Promise<boolean> {
  const r = await db.updateTable('users').set({ password: hash, email_verified: true })
    .where('id', '=', id).where('password', '=', expected).executeTakeFirst()
  return r.numUpdatedRows > 0n
}

export async function markEmailVerified(db: Executor, id: number): Promise<void> {
  await db.updateTable('users').set({ email_verified: true }).where('id', '=', id).execute()
}

/** The public shape of a user (`GET auth/user/`). */
export function toUserResponse(u: Pick<User, 'id' | 'email' | 'name' | 'is_staff' | 'date_joined'>) {
  return { pk: u.id, email: u.email, name: u.name, is_staff: u.is_staff, date_joined: u.date_joined.toISOString() }
}
