// login/ and logout/.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { HttpError, validationFailed } from '../../http/errors.ts'
import { burnPasswordCheck, hashPassword, needsRehash, verifyPassword } from '../passwords.ts'
import { revokeSession } from '../sessions.ts'
import { enforce, refund, reset } from '../throttle.ts'
import { findUserByEmail, setPasswordHash, toUserResponse } from '../users.ts'
import { AUTH, MESSAGES, isEmail, startSession, throttleRules } from './common.ts'
import { AUTHENTICATED, DetailSchema, LoginBody, LoginResponseSchema, errors } from '../../schemas/users.ts'

const loginRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { config, db } = app

  app.post(`${AUTH}/login/`, {
    schema: {
      tags: ['auth'],
      summary: 'Sign in with e-mail and password',
      description: 'Returns the API key and the user, and sets the key in an HttpOnly cookie. Repeated failures are throttled per address and per client.',
      body: LoginBody,
      response: { 200: LoginResponseSchema, ...errors(400, 429) },
    },
  }, async (request, reply) => {
    const { email = '', password } = request.body
    if (email.trim() === '') throw validationFailed({ non_field_errors: [MESSAGES.mustInclude] })
    if (!isEmail(email)) throw validationFailed({ email: ['Enter a valid email address.'] })

    const throttle = throttleRules.loginFailures(config, email, request.ip)
    // Counted before the password is checked, and decided on the count: a burst of guesses in
    // parallel gets at most the limit's worth of password checks. A success takes its count back.
    await enforce(db, throttle)
    const user = await findUserByEmail(db, email)
    // Without an account the same hashing work is done, so the answer's timing says nothing.
    const ok = user ? await verifyPassword(password, user.password) : await burnPasswordCheck(password).then(() => false)
    if (!user || !ok || !user.is_active) {
      throw validationFailed({ non_field_errors: [MESSAGES.loginFailed] })
    }
    await refund(db, throttle) // the right password is no failure
    if (config.emailVerification === 'mandatory' && !user.email_verified) {
      throw validationFailed({ non_field_errors: [MESSAGES.notVerified] })
    }
    if (needsRehash(user.password)) await setPasswordHash(db, user.id, await hashPassword(password))
    await reset(db, throttle.slice(0, 1)) // the address's failures; the client's stay counted
    const key = await startSession(app, request, reply, user.id)
    return { key, user: toUserResponse(user) }
  })

  app.post(`${AUTH}/logout/`, {
    schema: {
      tags: ['auth'],
      summary: 'Sign out: the key stops working at once, on every instance, and the cookie is cleared',
      // The key is optional: without one (or with a dead one) there is only the cookie to clear.
      security: [{}, ...AUTHENTICATED],
      response: { 200: DetailSchema, ...errors(403) },
    },
  }, async (request, reply) => {
    try {
      await app.authenticate(request, reply)
    } catch (err) {
      // No key, or one that no longer works: there is nothing to revoke, and the cookie still goes.
      if (!(err instanceof HttpError && err.statusCode === 401)) throw err
    }
    if (request.user) {
      await revokeSession(db, request.user.session_id)
      app.sessionCache.forget({ sessions: [request.user.session_id] })
    }
    app.clearTokenCookie(reply)
    return { detail: 'Successfully logged out.' }
  })
}

export default loginRoutes
