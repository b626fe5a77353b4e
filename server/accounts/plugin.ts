// Authentication: reads the API key (Bearer / Token header or the HttpOnly cookie), checks its
// signature and its session, and exposes `app.authenticate` / `app.requireStaff` for routes.
import fp from 'fastify-plugin'
import cookie from '@fastify/cookie'
import jwt from '@fastify/jwt'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { HttpError, invalidToken, notAuthenticated, permissionDenied } from '../http/errors.ts'
import { findSessionUser, type NewSession } from './sessions.ts'

export const TOKEN_COOKIE = 'conveyor_token'
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

export interface AuthUser {
  id: number
  email: string
  name: string
  is_staff: boolean
  is_superuser: boolean
  date_joined: Date
  session_id: string
}

export interface TokenPayload {
  sid: string
  sub: string
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: TokenPayload
    user: AuthUser | null
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** onRequest/preHandler hook: 401 unless a valid key is presented; sets `request.user`. */
    authenticate(request: FastifyRequest, reply: FastifyReply): Promise<void>
    /** Like authenticate, then 403 unless the user is staff. */
    requireStaff(request: FastifyRequest, reply: FastifyReply): Promise<void>
    /** Signs the API key for a session. */
    issueToken(session: NewSession): string
    /** Sets the key in the HttpOnly cookie the SPA uses. */
    setTokenCookie(reply: FastifyReply, token: string, expiresAt: Date): void
    clearTokenCookie(reply: FastifyReply): void
  }
}

/** The key and where it came from, or null when the request carries none. */
function readKey(request: FastifyRequest): { key: string; fromCookie: boolean } | null {
  const header = request.headers.authorization
  if (header) {
    const [scheme, key, extra] = header.trim().split(/\s+/)
    if (!key || extra || !/^(bearer|token)$/i.test(scheme ?? '')) throw invalidToken()
    return { key, fromCookie: false }
  }
  const fromCookie = request.cookies[TOKEN_COOKIE]
  return fromCookie ? { key: fromCookie, fromCookie: true } : null
}

export default fp(async (app) => {
  const { config } = app
  await app.register(cookie)
  await app.register(jwt, { secret: config.secretKey, sign: { algorithm: 'HS256' }, verify: { algorithms: ['HS256'] } })

  async function authenticate(request: FastifyRequest): Promise<void> {
    const found = readKey(request)
    if (!found) throw notAuthenticated()
    let payload: TokenPayload
    try {
      payload = app.jwt.verify<TokenPayload>(found.key)
    } catch {
      throw invalidToken()
    }
    if (typeof payload.sid !== 'string' || !/^[0-9a-f-]{36}$/.test(payload.sid)) throw invalidToken()
    const user = await findSessionUser(app.db, payload.sid)
    if (!user || String(user.id) !== payload.sub) throw invalidToken()
    // A cookie is sent by the browser on its own: unsafe methods must prove they come from our script.
    if (found.fromCookie && !SAFE_METHODS.has(request.method) && request.headers['x-requested-with'] !== 'XMLHttpRequest') {
      throw new HttpError(403, { detail: 'CSRF check failed.' })
    }
    const { expires_at: _expires, ...rest } = user
    request.user = rest
  }

  app.decorate('authenticate', async (request: FastifyRequest) => authenticate(request))
  app.decorate('requireStaff', async (request: FastifyRequest) => {
    await authenticate(request)
    if (!request.user?.is_staff) throw permissionDenied()
  })
  app.decorate('issueToken', (session: NewSession) =>
    app.jwt.sign({ sid: session.id, sub: String(session.userId) }, { expiresIn: Math.max(1, Math.floor((session.expiresAt.getTime() - Date.now()) / 1000)) }))
  app.decorate('setTokenCookie', (reply: FastifyReply, token: string, expiresAt: Date) => {
    reply.setCookie(TOKEN_COOKIE, token, {
      httpOnly: true, sameSite: 'strict', secure: config.env === 'production', path: '/', expires: expiresAt,
    })
  })
  app.decorate('clearTokenCookie', (reply: FastifyReply) => {
    reply.clearCookie(TOKEN_COOKIE, { httpOnly: true, sameSite: 'strict', secure: config.env === 'production', path: '/' })
  })
}, { name: 'accounts-auth' })
