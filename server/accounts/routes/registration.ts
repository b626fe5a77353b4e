// registration/, registration/verify-email/, registration/resend-email/.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyInstance } from 'fastify'
import type { User } from '../../../db/types.ts'
import { notFound, permissionDenied, validationFailed } from '../../http/errors.ts'
import { describeDuration, verificationEmail } from '../../mail/templates.ts'
import { validatePassword } from '../password-validation.ts'
import { makeVerificationKey, parseVerificationKey, verificationKeyMatches } from '../signing.ts'
import { enforce } from '../throttle.ts'
import { createUser, findUserByEmail, findUserById, markEmailVerified } from '../users.ts'
import { AUTH, MESSAGES, frontendBase, startSession, throttleRules } from './common.ts'
import { DetailSchema, EmailBody, RegisterBody, RegistrationResponseSchema, VerifyEmailBody, errors } from '../../schemas/users.ts'

const isUniqueViolation = (err: unknown) => (err as { code?: string }).code === '23505'

function sendVerification(app: FastifyInstance, user: Pick<User, 'id' | 'email' | 'name'>): void {
  const { config } = app
  const key = makeVerificationKey(config.secretKey, user, config.emailVerificationExpireSeconds)
  const link = `${frontendBase(config)}/verify-email/${key}`
  app.mailer.send(verificationEmail(user, link, describeDuration(config.emailVerificationExpireSeconds)))
}

const registrationRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { config, db } = app

  app.post(`${AUTH}/registration/`, {
    // Closed registration and throttling come before validation: neither depends on the body.
    onRequest: async (request) => {
      if (!config.allowRegistration) throw permissionDenied()
      await enforce(db, throttleRules.registration(config, request.ip))
    },
    schema: {
      tags: ['auth'],
      summary: 'Create an account',
      description: 'Returns the API key (and sets the cookie), or only a detail when e-mail verification is mandatory.',
      body: RegisterBody,
      response: { 201: RegistrationResponseSchema, ...errors(400, 403, 429) },
    },
  }, async (request, reply) => {
    const { email, password1, password2, name = '' } = request.body
    const problems: Record<string, string[]> = {}
    if (await findUserByEmail(db, email)) problems.email = [MESSAGES.duplicateEmail]
    const weak = validatePassword(password1, { email, name })
    if (weak.length > 0) problems.password1 = weak
    if (password1 !== password2) problems.non_field_errors = [MESSAGES.registrationMismatch]
    if (Object.keys(problems).length > 0) throw validationFailed(problems)

    let user: User
    try {
      user = await createUser(db, { email, password: password1, name })
    } catch (err) {
      if (isUniqueViolation(err)) throw validationFailed({ email: [MESSAGES.duplicateEmail] }) // a concurrent sign-up won
      throw err
    }
    if (config.emailVerification !== 'none') sendVerification(app, user)
    if (config.emailVerification === 'mandatory') return reply.code(201).send({ detail: 'Verification e-mail sent.' })
    return reply.code(201).send({ key: await startSession(app, request, reply, user.id) })
  })

  app.post(`${AUTH}/registration/verify-email/`, {
    schema: {
      tags: ['auth'],
      summary: 'Confirm an e-mail address with the key from the verification e-mail',
      body: VerifyEmailBody,
      response: { 200: DetailSchema, ...errors(400, 404) },
    },
  }, async (request) => {
    const { key } = request.body
    const parsed = parseVerificationKey(key) // null when malformed or expired
    const user = parsed ? await findUserById(db, parsed.userId) : undefined
    if (!user || !verificationKeyMatches(config.secretKey, key, user)) throw notFound()
    if (!user.email_verified) await markEmailVerified(db, user.id)
    return { detail: 'ok' }
  })

  app.post(`${AUTH}/registration/resend-email/`, {
    schema: {
      tags: ['auth'],
      summary: 'Send the verification e-mail again',
      description: 'Always answers the same, whether or not the address has an account.',
      body: EmailBody,
      response: { 200: DetailSchema, ...errors(400, 429) },
    },
  }, async (request) => {
    const { email } = request.body
    await enforce(db, throttleRules.emailRequests(config, 'resend', email, request.ip))
    const user = await findUserByEmail(db, email)
    if (user && user.is_active && !user.email_verified && config.emailVerification !== 'none') sendVerification(app, user)
    return { detail: 'ok' }
  })
}

export default registrationRoutes
