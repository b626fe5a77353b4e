// password/change/, password/reset/, password/reset/confirm/.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { validationFailed } from '../../http/errors.ts'
import { describeDuration, passwordResetEmail } from '../../mail/templates.ts'
import { hashPassword, verifyPassword } from '../passwords.ts'
import { revokeUserSessions } from '../sessions.ts'
import { fromBase36, makeResetToken, resetTokenMatches, toBase36 } from '../signing.ts'
import { enforce, refund } from '../throttle.ts'
import { findUserByEmail, findUserById, replacePasswordHash, setPasswordHash } from '../users.ts'
import { AUTH, MESSAGES, frontendBase, newPasswordErrors, throttleRules } from './common.ts'
import { AUTHENTICATED, DetailSchema, EmailBody, PasswordChangeBody, PasswordResetConfirmBody, errors } from '../../schemas/users.ts'

const passwordRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { config, db } = app

  app.post(`${AUTH}/password/change/`, {
    onRequest: app.authenticate,
    schema: {
      tags: ['auth'],
      security: AUTHENTICATED,
      summary: 'Change the password; the user’s other sessions are revoked, this one stays',
      body: PasswordChangeBody,
      response: { 200: DetailSchema, ...errors(400, 401, 403, 429) },
    },
  }, async (request) => {
    const { id, session_id: current } = request.user!
    const { old_password: oldPassword, new_password1: password1, new_password2: password2 } = request.body
    const user = await findUserById(db, id)
    if (!user) throw validationFailed({ old_password: [MESSAGES.oldPasswordWrong] })
    // A stolen key must not become a way to guess the password: failures are throttled like logins.
    const throttle = throttleRules.passwordChangeFailures(config, id)
    await enforce(db, throttle) // counted first: parallel guesses get at most the limit's worth of checks
    const problems: Record<string, string[]> = {}
    if (!(await verifyPassword(oldPassword, user.password))) problems.old_password = [MESSAGES.oldPasswordWrong]
    else await refund(db, throttle) // the right password is not a failure
    const weak = newPasswordErrors(password1, password2, user)
    if (weak.length > 0) problems.new_password2 = weak
    if (Object.keys(problems).length > 0) throw validationFailed(problems)

    const hash = await hashPassword(password2)
    await db.transaction().execute(async (trx) => {
      await setPasswordHash(trx, id, hash)
      await revokeUserSessions(trx, id, current)
    })
    app.sessionCache.forget({ users: [id] })
    return { detail: 'New password has been saved.' }
  })

  app.post(`${AUTH}/password/reset/`, {
    schema: {
      tags: ['auth'],
      summary: 'E-mail a password reset link',
      description: 'Always answers the same, whether or not the address has an account. The link goes to the SPA page /password-reset/<uid>/<token>.',
      body: EmailBody,
      response: { 200: DetailSchema, ...errors(400, 429) },
    },
  }, async (request) => {
    const { email } = request.body
    await enforce(db, throttleRules.emailRequests(config, 'reset', email, request.ip))
    const user = await findUserByEmail(db, email)
    if (user?.is_active) {
      const link = `${frontendBase(config)}/password-reset/${toBase36(user.id)}/${makeResetToken(config.secretKey, user)}`
      app.mailer.send(passwordResetEmail(user, link, describeDuration(config.passwordResetTimeoutSeconds)))
    }
    return { detail: 'Password reset e-mail has been sent.' }
  })

  app.post(`${AUTH}/password/reset/confirm/`, {
    schema: {
      tags: ['auth'],
      summary: 'Set a new password with the uid and token from the reset e-mail; every session of the user is revoked',
      body: PasswordResetConfirmBody,
      response: { 200: DetailSchema, ...errors(400) },
    },
  }, async (request) => {
    const { uid, token, new_password1: password1, new_password2: password2 } = request.body
    const userId = fromBase36(uid)
    const user = userId === null || userId > 2 ** 31 - 1 ? undefined : await findUserById(db, userId)
    if (!user) throw validationFailed({ uid: [MESSAGES.invalidValue] })
    if (!user.is_active || !resetTokenMatches(config.secretKey, token, user, config.passwordResetTimeoutSeconds)) {
      throw validationFailed({ token: [MESSAGES.invalidValue] })
    }
    const weak = newPasswordErrors(password1, password2, user)
    if (weak.length > 0) throw validationFailed({ new_password2: weak })

    const hash = await hashPassword(password2)
    const replaced = await db.transaction().execute(async (trx) => {
      // Only if the password is still the one the token was made for: two concurrent uses, one wins.
      if (!(await replacePasswordHash(trx, user.id, user.password, hash))) return false
      await revokeUserSessions(trx, user.id)
      return true
    })
    if (!replaced) throw validationFailed({ token: [MESSAGES.invalidValue] })
    app.sessionCache.forget({ users: [user.id] })
    return { detail: 'Password has been reset with the new password.' }
  })
}

export default passwordRoutes
