// Signing in with a provider: the providers list and the authorization code flow with PKCE
// (login/ → the provider → callback/). The callback signs the user in with the same revocable
// session and cookie as login/; every failure is a 302 to the SPA's /sign-in?error=<code>.
import * as oidc from 'openid-client'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'
import { notFound } from '../../http/errors.ts'
import { AUTH, startSession } from '../routes/common.ts'
import { errors } from '../../schemas/users.ts'
import { clearFlowCookie, readFlowCookie, setFlowCookie } from './flow-cookie.ts'
import { describeError, isNetworkError, type OidcProvider, type OidcProviders } from './providers.ts'
import { LoginQuery, ProviderListSchema, type SignInError } from '../../schemas/social-accounts.ts'
import { resolveUser, type Identity } from './social-accounts.ts'

const SCOPE = 'openid email profile'

/** A path inside the app for `next` (same-origin only), else "/". */
export function safeNext(next: unknown): string {
  if (typeof next !== 'string' || !next.startsWith('/') || next.startsWith('//') || /[\\\u0000-\u001f]/.test(next)) return '/'
  const base = 'http://next.invalid'
  const url = URL.parse(next, base)
  return url && url.origin === base ? `${url.pathname}${url.search}${url.hash}` : '/'
}

/**
 * Where the browser reaches the app: FRONTEND_URL behind a proxy; else the configured HOST and the
 * port actually listened on. Never the request's Host header, which a client chooses.
 */
export function appOrigin(app: FastifyInstance): string {
  const { config } = app
  if (config.frontendUrlConfigured) return config.frontendUrl
  const address = app.server.address()
  const port = address && typeof address === 'object' && address.port ? address.port : config.port
  let host = ['0.0.0.0', '::'].includes(config.host) ? 'localhost' : config.host
  if (host.includes(':')) host = `[${host}]`
  return `http://${host}:${port}`
}

/** The app's sign-in error code for a failed code exchange or token check. */
function classify(err: unknown): SignInError {
  if (err instanceof oidc.AuthorizationResponseError) return err.error === 'access_denied' ? 'cancelled' : 'provider_error'
  if (isNetworkError(err)) return 'provider_unavailable'
  if (/"state"/.test(describeError(err))) return 'invalid_state'
  return 'invalid_token'
}

/** The claims of the checked ID token, completed from UserInfo (many providers put e-mail only there). */
async function identityOf(config: oidc.Configuration, provider: string, tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers): Promise<Identity> {
  const claims: Record<string, unknown> = { ...tokens.claims() }
  if (claims.email === undefined && config.serverMetadata().userinfo_endpoint) {
    Object.assign(claims, { ...(await oidc.fetchUserInfo(config, tokens.access_token, String(claims.sub))), sub: claims.sub })
  }
  const email = typeof claims.email === 'string' && claims.email.includes('@') ? claims.email : null
  const name = typeof claims.name === 'string' ? claims.name : ''
  // Some providers send the flag as the string "true"; anything else is "not verified".
  const emailVerified = claims.email_verified === true || claims.email_verified === 'true'
  return { provider, subject: String(claims.sub), email, emailVerified, name }
}

const signInRoutes: FastifyPluginAsyncTypebox<{ providers: OidcProviders }> = async (app, { providers }) => {
  const { config, db } = app

  const loginPath = (id: string) => `${AUTH}/oidc/${id}/login/`
  const callbackUrl = (id: string) => `${appOrigin(app)}${AUTH}/oidc/${id}/callback/`
  /** A path of the SPA: relative when the app serves it, under FRONTEND_URL otherwise. */
  const spaUrl = (path: string) => `${config.frontendUrlConfigured ? config.frontendUrl : ''}${path}`
  const ProviderParams = Type.Object({ provider: Type.String({ maxLength: 64 }) })

  app.get(`${AUTH}/providers/`, {
    schema: {
      tags: ['auth'],
      security: [],
      summary: 'The configured social login providers (empty when none is configured)',
      response: { 200: ProviderListSchema },
    },
  }, async () => providers.list().map((p) => ({ id: p.id, name: p.name, login_url: loginPath(p.id) })))

  app.get(`${AUTH}/oidc/:provider/login/`, {
    schema: {
      tags: ['auth'],
      security: [],
      summary: 'Start signing in with a provider: 302 to its authorization endpoint',
      description: 'Authorization code flow with PKCE; state and nonce are bound to this browser by a short-lived HttpOnly cookie. `next`: the path to land on afterwards (same-origin paths only). Unknown provider: 404. A provider that cannot be reached: 302 to /sign-in?error=provider_unavailable.',
      params: ProviderParams,
      querystring: LoginQuery,
      response: { ...errors(404) },
    },
  }, async (request, reply) => {
    const provider = providers.get(request.params.provider)
    if (!provider) throw notFound()
    reply.header('cache-control', 'no-store')
    let configuration: oidc.Configuration
    try {
      configuration = await provider.configuration()
    } catch {
      return reply.redirect(spaUrl('/sign-in?error=provider_unavailable'), 302) // logged by configuration()
    }
    const verifier = oidc.randomPKCECodeVerifier()
    const flow = { provider: provider.id, state: oidc.randomState(), nonce: oidc.randomNonce(), verifier, next: safeNext(request.query.next) }
    const url = oidc.buildAuthorizationUrl(configuration, {
      redirect_uri: callbackUrl(provider.id),
      scope: SCOPE,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: flow.state,
      nonce: flow.nonce,
    })
    setFlowCookie(reply, config, flow)
    return reply.redirect(url.href, 302)
  })

  app.get(`${AUTH}/oidc/:provider/callback/`, {
    schema: {
      tags: ['auth'],
      security: [],
      summary: 'Where the provider sends the browser back: signs in and 302s to `next`',
      description: 'Exchanges the code (with the PKCE verifier) and checks state, nonce, issuer, audience, expiry and the ID token’s signature (the provider’s JWKS). Success: the same session and cookie as login/, then 302 to `next`. Any failure: 302 to /sign-in?error=<code>, nothing created.',
      params: ProviderParams,
    },
  }, async (request, reply) => {
    reply.header('cache-control', 'no-store')
    const flow = readFlowCookie(request, config)
    clearFlowCookie(reply, config) // one attempt per cookie, whatever happens
    const provider: OidcProvider | undefined = providers.get(request.params.provider)
    const fail = (code: SignInError, reason?: string) => {
      request.log.warn({ provider: request.params.provider, code, reason }, `social login refused: ${code}${reason ? ` (${reason})` : ''}`)
      return reply.redirect(spaUrl(`/sign-in?error=${code}`), 302)
    }
    if (!provider) return fail('unknown_provider')
    if (!flow || flow.provider !== provider.id) return fail('invalid_state', 'no sign-in with this provider was started in this browser')
    let configuration: oidc.Configuration
    try {
      configuration = await provider.configuration()
    } catch (err) {
      return fail('provider_unavailable', describeError(err))
    }

    const queryAt = request.url.indexOf('?')
    const current = new URL(callbackUrl(provider.id) + (queryAt < 0 ? '' : request.url.slice(queryAt)))
    let identity: Identity
    try {
      const tokens = await oidc.authorizationCodeGrant(configuration, current, {
        pkceCodeVerifier: flow.verifier, expectedState: flow.state, expectedNonce: flow.nonce, idTokenExpected: true,
      })
      identity = await identityOf(configuration, provider.id, tokens)
    } catch (err) {
      return fail(classify(err), describeError(err))
    }

    let outcome: Awaited<ReturnType<typeof resolveUser>>
    try {
      const attempt = () => db.transaction().execute((trx) => resolveUser(trx, identity, config))
      // Two first sign-ins of one identity at once: the loser's unique violation, then it finds the winner's rows.
      outcome = await attempt().catch((err: { code?: string }) => {
        if (err.code === '23505') return attempt()
        throw err
      })
    } catch (err) {
      request.log.error({ err, provider: provider.id }, 'social login failed')
      return fail('server_error')
    }
    if (!outcome.ok) return fail(outcome.code)
    if (outcome.revokedSessions) app.sessionCache.forget({ users: [outcome.userId] })
    await startSession(app, request, reply, outcome.userId)
    request.log.info({ provider: provider.id, user: outcome.userId, created: outcome.created, linked: outcome.linked }, 'social login')
    return reply.redirect(spaUrl(safeNext(flow.next)), 302)
  })
}

export default signInRoutes
