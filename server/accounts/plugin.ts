// Authentication: reads the API key (Bearer / Token header or the HttpOnly cookie), checks its
// signature and its session (through the instance's session cache), and exposes
// `app.authenticate` / `app.requireStaff` for routes.
import fp from 'fastify-plugin'
import cookie from '@fastify/cookie'
import jwt from '@fastify/jwt'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { HttpError, invalidToken, notAuthenticated, permissionDenied } from '../http/errors.ts'
import { startAuthListener } from './auth-listener.ts'
import { SessionCache } from './session-cache.ts'
import { findSessionUser, type NewSession, type SessionUser } from './sessions.ts'

export const TOKEN_COOKIE = 'conveyor_token'
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])
const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

export type AuthUser = SessionUser

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
    /** This instance's cache of session lookups; `forget()` it after changing sessions or users. */
    sessionCache: SessionCache
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

  const cache = new SessionCache(config.authCacheSeconds)
  app.decorate('sessionCache', cache)
  if (config.authCacheSeconds > 0) {
    const listener = startAuthListener({ url: app.databaseUrl, cache, log: app.log })
    app.addHook('onClose', async () => listener.close())
    await listener.ready
  }

  /** The full check of a key not in the cache: signature, expiry, claims, then its session in the database. */
  async function verifyKey(key: string): Promise<AuthUser> {
    let payload: TokenPayload & { exp?: number }
    try {
      payload = app.jwt.verify<TokenPayload & { exp?: number }>(key)
    } catch {
      throw invalidToken()
    }
    const { sid, sub, exp } = payload
    if (typeof sid !== 'string' || !SESSION_ID.test(sid) || typeof sub !== 'string' || !/^\d{1,10}$/.test(sub)) throw invalidToken()
    const claims = { sessionId: sid, userId: Number(sub), expiresAt: typeof exp === 'number' ? exp * 1000 : Infinity }
    const user = await cache.load(key, claims, () => findSessionUser(app.db, sid))
    if (!user) throw invalidToken()
    return user
  }

  async function authenticate(request: FastifyRequest): Promise<void> {
    const found = readKey(request)
    if (!found) throw notAuthenticated()
    const user = cache.get(found.key) ?? await verifyKey(found.key)
    // A cookie is sent by the browser on its own: unsafe methods must prove they come from our script.
    if (found.fromCookie && !SAFE_METHODS.has(request.method) && request.headers['x-requested-with'] !== 'XMLHttpRequest') {
      throw new HttpError(403, { detail: 'CSRF check failed.' })
    }
    request.user = user
  }

  app.decorate('authenticate', authenticate)
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
}, { name: 'accounts-auth', dependencies: ['database'] })
