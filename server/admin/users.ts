// Staff API for users: /api/v1/admin/users/ — what Django admin's user pages gave staff. Every write
// and its audit entry commit together; session revocations are announced to every instance.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { Type } from '@sinclair/typebox'
import { recordAudit } from '../../db/repositories/audit.ts'
import { countUsers, deleteUserRow, insertUser, listUsers, lockUser, type UserOrdering } from '../../db/repositories/users.ts'
import type { User } from '../../db/types.ts'
import { deleteOwnerData, removeRequestFiles } from '../../worker/index.ts'
import { validatePassword } from '../accounts/password-validation.ts'
import { hashPassword, makeUnusablePassword } from '../accounts/passwords.ts'
import { MESSAGES } from '../accounts/routes/common.ts'
import { revokeUserSessions } from '../accounts/sessions.ts'
import { findUserByEmail, findUserById, setPasswordHash, updateUser, type UserChanges } from '../accounts/users.ts'
import { HttpError, notFound, permissionDenied, validationFailed } from '../http/errors.ts'
import { pageBody, resolvePage } from '../http/pagination.ts'
import {
  AdminSetPasswordBody, AdminUserCreateBody, AdminUserListQuery, AdminUserPageSchema, AdminUserSchema, AdminUserUpdateBody, UserPkParams,
  toAdminUser, type AdminUserUpdate,
} from '../schemas/admin-users.ts'
import { DetailSchema, errors } from '../schemas/users.ts'
import { actorOf } from '../http/actor.ts'

const tags = ['admin: users']
const base = '/api/v1/admin/users'
const isUniqueViolation = (err: unknown) => (err as { code?: string }).code === '23505'

/** Django admin's rule: only a superuser may touch another staff member or a superuser. */
function mayManage(actor: FastifyRequest['user'], target: User): boolean {
  return actor!.is_superuser || actor!.id === target.id || (!target.is_staff && !target.is_superuser)
}

const adminUsers: FastifyPluginAsyncTypebox = async (app) => {
  const { db, boss, config } = app
  app.addHook('onRequest', app.requireStaff)
  const forget = (id: number) => app.sessionCache.forget({ users: [id] })

  async function target(request: FastifyRequest, pk: number): Promise<User> {
    const user = await findUserById(db, pk)
    if (!user) throw notFound()
    if (!mayManage(request.user, user)) throw permissionDenied()
    return user
  }

  app.get(`${base}/`, {
    schema: { tags, summary: 'List users', querystring: AdminUserListQuery, response: { 200: AdminUserPageSchema, ...errors(400, 401, 403, 404) } },
  }, async (request) => {
    const q = request.query
    const filter = { search: q.search?.trim() || undefined, isActive: q.is_active, isStaff: q.is_staff }
    const ordering = q.ordering ?? 'email'
    const order = { by: ordering.replace(/^-/, '') as UserOrdering, descending: ordering.startsWith('-') }
    const count = await countUsers(db, filter)
    const page = resolvePage(q, count)
    return pageBody(request, page, count, (await listUsers(db, filter, order, page)).map(toAdminUser))
  })

  app.post(`${base}/`, {
    schema: {
      tags, summary: 'Create a user (without a password, the account cannot log in until a password reset)',
      body: AdminUserCreateBody, response: { 201: AdminUserSchema, ...errors(400, 401, 403) },
    },
  }, async (request, reply) => {
    const { email, name = '', password = null, is_staff: isStaff = false } = request.body
    if (isStaff && !request.user!.is_superuser) throw permissionDenied()
    const problems: Record<string, string[]> = {}
    if (await findUserByEmail(db, email)) problems.email = [MESSAGES.duplicateEmail]
    const weak = password === null ? [] : validatePassword(password, { email, name })
    if (weak.length > 0) problems.password = weak
    if (Object.keys(problems).length > 0) throw validationFailed(problems)
    const hash = password === null ? makeUnusablePassword() : await hashPassword(password)
    const user = await db.transaction().execute(async (trx) => {
      // Staff vouch for the address they type, as Django admin's accounts need no confirmation.
      const row = await insertUser(trx, { email, name, password: hash, is_staff: isStaff, email_verified: true })
      await recordAudit(trx, {
        actor: actorOf(request), action: 'create', objectType: 'user', objectId: row.id,
        changes: { email: row.email, name: row.name, is_staff: row.is_staff },
      })
      return row
    }).catch((err) => {
      if (isUniqueViolation(err)) throw validationFailed({ email: [MESSAGES.duplicateEmail] }) // a concurrent create won
      throw err
    })
    return reply.code(201).send(toAdminUser(user))
  })

  app.get(`${base}/:pk/`, {
    schema: { tags, summary: 'Read a user', params: UserPkParams, response: { 200: AdminUserSchema, ...errors(401, 403, 404) } },
  }, async (request) => {
    const user = await findUserById(db, request.params.pk)
    if (!user) throw notFound()
    return toAdminUser(user)
  })

  for (const method of ['PUT', 'PATCH'] as const) {
    app.route({
      method,
      url: `${base}/:pk/`,
      schema: {
        tags, summary: method === 'PUT' ? 'Update a user (name, is_active, is_staff)' : 'Update some fields of a user',
        description: 'Only a superuser may change is_staff, or change another staff member or a superuser. Deactivating revokes every session of the user.',
        params: UserPkParams, body: AdminUserUpdateBody, response: { 200: AdminUserSchema, ...errors(400, 401, 403, 404) },
      },
      handler: async (request) => {
        const { pk } = request.params as { pk: number }
        const body = request.body as AdminUserUpdate
        const current = await target(request, pk)
        if (body.is_staff !== undefined && body.is_staff !== current.is_staff && !request.user!.is_superuser) throw permissionDenied()
        if (body.is_active === false && pk === request.user!.id) throw validationFailed({ is_active: ['You cannot deactivate your own account.'] })
        const changes: UserChanges = {}
        if (body.name !== undefined) changes.name = body.name
        if (body.is_active !== undefined) changes.is_active = body.is_active
        if (body.is_staff !== undefined) changes.is_staff = body.is_staff
        const user = await db.transaction().execute(async (trx) => {
          const row = await updateUser(trx, pk, changes) // announces the change to every instance's session cache
          if (!row) throw notFound()
          if (changes.is_active === false) await revokeUserSessions(trx, pk)
          await recordAudit(trx, { actor: actorOf(request), action: 'update', objectType: 'user', objectId: pk, changes: { ...changes } })
          return row
        })
        forget(pk)
        return toAdminUser(user)
      },
    })
  }

  app.delete(`${base}/:pk/`, {
    schema: {
      tags, summary: "Delete a user: their sessions end at once; their requests, results, files and schedules are removed",
      params: UserPkParams, response: { 204: Type.Null(), ...errors(400, 401, 403, 404) },
    },
  }, async (request, reply) => {
    const { pk } = request.params
    const current = await target(request, pk)
    if (pk === request.user!.id) throw new HttpError(400, { detail: 'You cannot delete your own account.' })
    const removed = await db.transaction().execute(async (trx) => {
      if (!(await lockUser(trx, pk))) throw notFound()
      const data = await deleteOwnerData(trx, boss, pk)
      await revokeUserSessions(trx, pk)
      await deleteUserRow(trx, pk)
      await recordAudit(trx, {
        actor: actorOf(request), action: 'delete', objectType: 'user', objectId: pk,
        changes: { email: current.email, requests_deleted: data.requestIds.length, schedules_deleted: data.scheduleIds.length },
      })
      return data
    })
    forget(pk)
    // Files go after the commit: a rolled-back deletion keeps them.
    for (const id of removed.requestIds) await removeRequestFiles(config.mediaRoot, id)
    return reply.code(204).send(null)
  })

  app.post(`${base}/:pk/set-password/`, {
    schema: {
      tags, summary: "Set a user's password (Django's validators apply); every session of the user is revoked",
      params: UserPkParams, body: AdminSetPasswordBody, response: { 200: DetailSchema, ...errors(400, 401, 403, 404) },
    },
  }, async (request) => {
    const { pk } = request.params
    const current = await target(request, pk)
    const weak = validatePassword(request.body.password, current)
    if (weak.length > 0) throw validationFailed({ password: weak })
    const hash = await hashPassword(request.body.password)
    await db.transaction().execute(async (trx) => {
      if (!(await lockUser(trx, pk))) throw notFound()
      await setPasswordHash(trx, pk, hash)
      await revokeUserSessions(trx, pk)
      await recordAudit(trx, { actor: actorOf(request), action: 'set_password', objectType: 'user', objectId: pk })
    })
    forget(pk)
    return { detail: 'Password has been set.' }
  })
}

export default adminUsers
