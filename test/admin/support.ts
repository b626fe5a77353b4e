// Helpers for the staff API tests: one app with a user of each role, and a caller per role.
import type { Test } from 'tap'
import { api, userWithToken, type Built } from '../helper.ts'
import { buildJobs } from '../jobs/support.ts'

export type Role = 'anonymous' | 'user' | 'staff' | 'superuser'
export const ROLES: Role[] = ['anonymous', 'user', 'staff', 'superuser']

export async function adminApp(t: Test, options: { engine?: boolean } = {}) {
  const built = await buildJobs(t, options)
  const user = await userWithToken(built, { name: 'Plain User' })
  const staff = await userWithToken(built, { isStaff: true, name: 'Staff Member' })
  const superuser = await userWithToken(built, { isStaff: true, isSuperuser: true, name: 'Super User' })
  const headersOf: Record<Role, Record<string, string>> = { anonymous: {}, user: user.headers, staff: staff.headers, superuser: superuser.headers }
  const call = (role: Role | Record<string, string>, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: unknown) =>
    api(built.app, {
      method, url, headers: typeof role === 'string' ? headersOf[role] : role,
      ...(payload === undefined ? {} : { payload: payload as any }),
    })
  return { built, user, staff, superuser, call }
}

/** The audit entries, newest first, straight from the table. */
export function auditRows(built: Built) {
  return built.services.db.selectFrom('audit_log').selectAll().orderBy('id', 'desc').execute()
}
