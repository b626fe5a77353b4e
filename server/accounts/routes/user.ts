// user/ (GET, PUT, PATCH) and users/me/: the signed-in user.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { invalidToken } from '../../http/errors.ts'
import { toUserResponse, updateUser } from '../users.ts'
import { AUTH } from './common.ts'
import { AUTHENTICATED, UserSchema, UserUpdateBody, errors } from '../../schemas/users.ts'

const userRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db } = app
  const read = { tags: ['auth'], security: AUTHENTICATED, response: { 200: UserSchema, ...errors(401) } }

  for (const url of [`${AUTH}/user/`, '/api/v1/users/me/']) {
    app.get(url, { onRequest: app.authenticate, schema: { ...read, summary: 'The signed-in user' } },
      async (request) => toUserResponse(request.user!))
  }

  for (const method of ['PUT', 'PATCH'] as const) {
    app.route({
      method,
      url: `${AUTH}/user/`,
      onRequest: app.authenticate,
      schema: {
        tags: ['auth'],
        security: AUTHENTICATED,
        summary: 'Change the signed-in user’s name (pk, email and is_staff are read-only and ignored)',
        body: UserUpdateBody,
        response: { 200: UserSchema, ...errors(400, 401, 403) },
      },
      handler: async (request) => {
        const { id } = request.user!
        const { name } = request.body
        const user = await updateUser(db, id, name === undefined ? {} : { name })
        if (!user) throw invalidToken() // deleted while the request ran
        app.sessionCache.forget({ users: [id] })
        return toUserResponse(user)
      },
    })
  }
}

export default userRoutes
