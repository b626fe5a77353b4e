// The browser's half of a sign-in in progress: state, nonce, PKCE verifier and where to go next, in
// a short-lived HttpOnly cookie signed with SECRET_KEY, so only the browser that started the sign-in
// can finish it, and nothing about it is kept on the server.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Config } from '../../config.ts'

export const FLOW_COOKIE = 'conveyor_oidc'
/** Only the callback needs it. */
export const FLOW_COOKIE_PATH = '/api/v1/auth/oidc/'
/** Long enough to sign in at the provider, short enough that an abandoned attempt soon expires. */
export const FLOW_TTL_SECONDS = 600

export interface Flow {
  provider: string
  state: string
  nonce: string
  verifier: string
  next: string
}

interface Stored extends Flow { expires: number }

const SALT = 'conveyor.accounts.oidc-flow'

function signature(secret: string, payload: string): Buffer {
  const key = createHash('sha256').update(`${SALT}${secret}`).digest()
  return createHmac('sha256', key).update(payload).digest()
}

function cookieOptions(config: Config) {
  // Lax, not Strict: the provider sends the browser back with a cross-site top-level GET.
  return { httpOnly: true, sameSite: 'lax' as const, secure: config.env === 'production', path: FLOW_COOKIE_PATH }
}

export function setFlowCookie(reply: FastifyReply, config: Config, flow: Flow): void {
  const stored: Stored = { ...flow, expires: Math.floor(Date.now() / 1000) + FLOW_TTL_SECONDS }
  const payload = Buffer.from(JSON.stringify(stored)).toString('base64url')
  const value = `${payload}.${signature(config.secretKey, payload).toString('base64url')}`
  reply.setCookie(FLOW_COOKIE, value, { ...cookieOptions(config), maxAge: FLOW_TTL_SECONDS })
}

export function clearFlowCookie(reply: FastifyReply, config: Config): void {
  reply.clearCookie(FLOW_COOKIE, cookieOptions(config))
}

/** The flow this browser started, or null when the cookie is missing, forged or expired. */
export function readFlowCookie(request: FastifyRequest, config: Config): Flow | null {
  const value = request.cookies[FLOW_COOKIE]
  if (!value) return null
  const [payload, sig, extra] = value.split('.')
  if (!payload || !sig || extra !== undefined) return null
  const expected = signature(config.secretKey, payload)
  const given = Buffer.from(sig, 'base64url')
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null
  let stored: Stored
  try {
    stored = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Stored
  } catch {
    return null
  }
  const fields = [stored.provider, stored.state, stored.nonce, stored.verifier, stored.next]
  if (!fields.every((f) => typeof f === 'string') || typeof stored.expires !== 'number') return null
  if (stored.expires < Date.now() / 1000) return null
  const { expires: _expires, ...flow } = stored
  return flow
}
