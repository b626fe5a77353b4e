// What the authentication routes share: sessions started on login, links for e-mails, throttle rules,
// the "new password" checks.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Config } from '../../config.ts'
import { validatorCompiler } from '../../../worker/index.ts'
import { validatePassword, type PasswordContext } from '../password-validation.ts'
import { createSession } from '../sessions.ts'
import type { ThrottleRule } from '../throttle.ts'

export const AUTH = '/api/v1/auth'

export const MESSAGES = {
  loginFailed: 'Unable to log in with provided credentials.',
  notVerified: 'E-mail is not verified.',
  mustInclude: 'Must include "email" and "password".',
  duplicateEmail: 'User is already registered with this e-mail address.',
  registrationMismatch: "The two password fields didn't match.",
  passwordMismatch: 'The two password fields didn’t match.', // Django's form uses the curly apostrophe
  oldPasswordWrong: 'Your old password was entered incorrectly. Please enter it again.',
  invalidValue: 'Invalid value',
} as const

let emailCheck: ((v: unknown) => boolean) | undefined
/**
 * The same e-mail check as body validation, for the one field validated by hand (login's). Compiled
 * on its first use, as the routes' validators are (http/lazy-compilers.ts): compiled at import, it
 * was the app's first ajv schema, which compiles ajv's meta-schema with it (~45 ms of start-up, profiled).
 */
export const isEmail = (v: unknown): boolean =>
  (emailCheck ??= validatorCompiler({ schema: { type: 'string', format: 'email' }, httpPart: 'body' }) as (v: unknown) => boolean)(v)

/** Creates a session, signs its key and sets the HttpOnly cookie; returns the key. */
export async function startSession(app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, userId: number): Promise<string> {
  const session = await createSession(app.db, userId, app.config.tokenTtlSeconds, {
    ip: request.ip,
    userAgent: request.headers['user-agent'] ?? null,
  })
  const key = app.issueToken(session)
  app.setTokenCookie(reply, key, session.expiresAt)
  return key
}

/**
 * Where e-mail links point: configuration only (FRONTEND_URL, else HOST:PORT outside production),
 * never the request's Host header, which a client can forge to poison a reset link.
 */
export function frontendBase(config: Config): string {
  return config.frontendUrl
}

/** Django's SetPasswordForm: a mismatch alone, else the validators' messages (both on new_password2). */
export function newPasswordErrors(password1: string, password2: string, user: PasswordContext): string[] {
  if (password1 !== password2) return [MESSAGES.passwordMismatch]
  return validatePassword(password2, user)
}

const subject = (email: string) => email.trim().toLowerCase()

export const throttleRules = {
  loginFailures: (config: Config, email: string, ip: string): ThrottleRule[] => [
    { scope: 'login-failed-email', subject: subject(email), rate: config.throttle.loginFailuresPerEmail },
    { scope: 'login-failed-ip', subject: ip, rate: config.throttle.loginFailuresPerIp },
  ],
  passwordChangeFailures: (config: Config, userId: number): ThrottleRule[] => [
    { scope: 'password-change-failed-user', subject: String(userId), rate: config.throttle.loginFailuresPerEmail },
  ],
  registration: (config: Config, ip: string): ThrottleRule[] => [
    { scope: 'registration-ip', subject: ip, rate: config.throttle.registrationPerIp },
  ],
  /** Requests that send an e-mail (`reset` or `resend`): per client and per address. */
  emailRequests: (config: Config, kind: string, email: string, ip: string): ThrottleRule[] => [
    { scope: `${kind}-ip`, subject: ip, rate: config.throttle.emailRequestsPerIp },
    { scope: `${kind}-email`, subject: subject(email), rate: config.throttle.emailRequestsPerEmail },
  ],
}
