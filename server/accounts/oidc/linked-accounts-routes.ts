// The signed-in user's linked providers: list, and unlink unless it would leave no way to sign in
// (no usable password and no other configured provider linked).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { notFound, validationFailed } from '../../http/errors.ts'
import { hasUsablePassword } from '../passwords.ts'
import { AUTH } from '../routes/common.ts'
import { AUTHENTICATED, errors } from '../../schemas/users.ts'
import { findUserById } from '../users.ts'
import type { OidcProviders } from './providers.ts'
import { ProviderId, SocialAccountListSchema, UnlinkSelector } from '../../schemas/social-accounts.ts'
import { deleteSocialAccount, listSocialAccounts } from './social-accounts.ts'

export const UNLINK_REFUSED = 'This is your only way to sign in: set a password (Forgot your password?) before you unlink it.'

const linkedAccountRoutes: FastifyPluginAsyncTypebox<{ providers: OidcProviders }> = async (app, { providers }) => {
  const { db } = app

  const accountsOf = async (userId: number) => (await listSocialAccounts(db, userId)).map((a) => ({
    id: a.id,
    provider: a.provider,
    name: providers.get(a.provider)?.name ?? a.provider,
    uid: a.subject,
    email: a.email,
    date_joined: a.date_joined.toISOString(),
    last_login: a.last_login?.toISOString() ?? null,
  }))

  app.get(`${AUTH}/social-accounts/`, {
    onRequest: app.authenticate,
    schema: {
      tags: ['auth'], security: AUTHENTICATED,
      summary: 'The providers linked to the signed-in user',
      response: { 200: SocialAccountListSchema, ...errors(401) },
    },
  }, async (request) => accountsOf(request.user!.id))

  /** Unlinks, unless it would leave the user no way to sign in (no usable password, no other provider). */
  async function unlink(userId: number, provider: string): Promise<void> {
    const [user, linked] = await Promise.all([findUserById(db, userId), listSocialAccounts(db, userId)])
    if (!user || !linked.some((a) => a.provider === provider)) throw notFound()
    const otherWays = linked.filter((a) => a.provider !== provider && providers.get(a.provider)).length
    if (!hasUsablePassword(user.password) && otherWays === 0) throw validationFailed({ non_field_errors: [UNLINK_REFUSED] })
    await deleteSocialAccount(db, userId, provider)
  }

  const unlinkSchema = {
    tags: ['auth'], security: AUTHENTICATED,
    response: { 204: Type.Null(), ...errors(400, 401, 403, 404) },
  }
  app.delete(`${AUTH}/social-accounts/:provider/`, {
    onRequest: app.authenticate,
    schema: { ...unlinkSchema, summary: 'Unlink a provider (400 when it is the only way left to sign in)', params: Type.Object({ provider: ProviderId }) },
  }, async (request, reply) => {
    await unlink(request.user!.id, request.params.provider)
    return reply.code(204).send(null)
  })
  // The plain path takes the provider from a JSON body {"provider": "<id>"}, or ?provider=<id> for
  // clients (and proxies) that drop bodies on DELETE.
  app.delete(`${AUTH}/social-accounts/`, {
    onRequest: app.authenticate,
    preValidation: async (request) => { request.body ??= {} }, // no body: the query names the provider
    schema: {
      ...unlinkSchema,
      operationId: 'authSocialAccountsDestroyNamed',
      summary: 'Unlink the provider named by {"provider": "<id>"} (or ?provider=<id>)',
      querystring: UnlinkSelector,
      body: UnlinkSelector,
    },
  }, async (request, reply) => {
    const provider = request.body?.provider ?? request.query.provider
    if (provider === undefined) throw validationFailed({ provider: ['This field is required.'] })
    await unlink(request.user!.id, provider)
    return reply.code(204).send(null)
  })
}

export default linkedAccountRoutes
