// Users as staff see them: /api/v1/admin/users/ (Django admin's user list and form). Shared by the
// routes, the OpenAPI document and the client (`import type`): it imports nothing but TypeBox and schemas.
import { Type, type Static } from '@sinclair/typebox'
import type { User } from '../../db/types.ts'
import { PageQuery, PageSchema } from './pagination.ts'

const Time = Type.String({ format: 'date-time' })
const Password = Type.String({ minLength: 1, maxLength: 4096 })
const Name = Type.String({ maxLength: 255 })

export const AdminUserSchema = Type.Object({
  pk: Type.Integer(),
  email: Type.String(),
  name: Type.String(),
  is_active: Type.Boolean(),
  is_staff: Type.Boolean(),
  is_superuser: Type.Boolean(),
  date_joined: Time,
  last_login: Type.Union([Time, Type.Null()]),
})
export type AdminUser = Static<typeof AdminUserSchema>

export const ADMIN_USER_ORDERINGS = ['email', '-email', 'date_joined', '-date_joined', 'last_login', '-last_login'] as const
export type AdminUserOrdering = (typeof ADMIN_USER_ORDERINGS)[number]

export const AdminUserListQuery = Type.Object({
  ...PageQuery,
  search: Type.Optional(Type.String({ description: 'part of the e-mail or name, any case' })),
  is_active: Type.Optional(Type.Boolean()),
  is_staff: Type.Optional(Type.Boolean()),
  ordering: Type.Optional(Type.Union(ADMIN_USER_ORDERINGS.map((o) => Type.Literal(o)), { description: 'default: email' })),
})
export type AdminUserListQuery = Static<typeof AdminUserListQuery>

export const AdminUserPageSchema = PageSchema(AdminUserSchema)
export type AdminUserPage = Static<typeof AdminUserPageSchema>

export const AdminUserCreateBody = Type.Object({
  email: Type.String({ format: 'email', maxLength: 254 }),
  name: Type.Optional(Name),
  password: Type.Optional(Type.Union([Password, Type.Null()], { description: 'left out: the account cannot log in until a password reset' })),
  is_staff: Type.Optional(Type.Boolean({ description: 'superusers only' })),
})
export type AdminUserCreate = Static<typeof AdminUserCreateBody>

/** PUT and PATCH take the same fields (PUT with every field optional, as the form's read-only fields are). */
export const AdminUserUpdateBody = Type.Object({
  name: Type.Optional(Name),
  is_active: Type.Optional(Type.Boolean()),
  is_staff: Type.Optional(Type.Boolean({ description: 'superusers only' })),
})
export type AdminUserUpdate = Static<typeof AdminUserUpdateBody>

export const AdminSetPasswordBody = Type.Object({ password: Password })
export type AdminSetPassword = Static<typeof AdminSetPasswordBody>

export const UserPkParams = Type.Object({ pk: Type.Integer({ minimum: 1, maximum: 2147483647 }) })

/** The one mapping from a user row to the staff shape (the row's password never leaves). */
export function toAdminUser(u: User): AdminUser {
  return {
    pk: u.id, email: u.email, name: u.name, is_active: u.is_active, is_staff: u.is_staff, is_superuser: u.is_superuser,
    date_joined: u.date_joined.toISOString(), last_login: u.last_login?.toISOString() ?? null,
  }
}
