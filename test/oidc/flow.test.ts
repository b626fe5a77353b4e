// Social login against a real OpenID provider (oidc-provider in a child process, real HTTP): the
// whole code flow, the account rules, and every failure path ending at /sign-in?error=… with
// nothing created.
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { hasUsablePassword } from '../../server/accounts/passwords.ts'
import { api, build, userWithToken } from '../helper.ts'
import { AUTH, OTHER_CLIENT_ID, CLIENT, callback, signInAtProvider, signInWith, startLogin, startProvider } from './support.ts'

const [idp, skewed, rogue, forged] = await Promise.all([
  startProvider(t),
  startProvider(t, { FIXTURE_CLOCK_OFFSET_SECONDS: '-7200' }), // its tokens expired an hour ago
  startProvider(t, { FIXTURE_TAMPER: 'audience' }),
  startProvider(t, { FIXTURE_TAMPER: 'foreign-key' }),
])

const providerEnv = (id: string, issuer: string, name?: string) => ({
  [`OIDC_${id.toUpperCase()}_ISSUER`]: issuer,
  [`OIDC_${id.toUpperCase()}_CLIENT_ID`]: CLIENT.id,
  [`OIDC_${id.toUpperCase()}_CLIENT_SECRET`]: CLIENT.secret,
  ...(name ? { [`OIDC_${id.toUpperCase()}_NAME`]: name } : {}),
})

const main = await build(t, {
  env: {
    OIDC_PROVIDERS: 'test,skewed,rogue,forged',
    ...providerEnv('test', idp.issuer, 'Test ID'),
    ...providerEnv('skewed', skewed.issuer),
    ...providerEnv('rogue', rogue.issuer),
    ...providerEnv('forged', forged.issuer),
  },
})
const { app } = main
const db = main.services.db

/** Rows that a failed sign-in must not have added. */
async function counts() {
  const [users, links, sessions] = await Promise.all(['users', 'social_accounts', 'sessions'].map(async (table) =>
    Number((await db.selectFrom(table as 'users').select((e) => e.fn.countAll().as('n')).executeTakeFirstOrThrow()).n)))
  return { users, links, sessions }
}

/** Asserts a sign-in attempt ended at the SPA's sign-in page with `code` and changed nothing. */
async function assertRefused(tt: Test, attempt: () => Promise<{ location?: string; token?: string }>, code: string, prefix = '') {
  const before = await counts()
  const result = await attempt()
  tt.equal(result.location, `${prefix}/sign-in?error=${code}`, `ends at /sign-in?error=${code}`)
  tt.notOk(result.token, 'no session cookie')
  tt.same(await counts(), before, 'no user, link or session created')
}

const me = (a: FastifyInstance, token: string) => api(a, { method: 'GET', url: `${AUTH}/user/`, headers: { cookie: `conveyor_token=${token}` } })

t.test('the providers list names each configured provider and its login URL', async (t) => {
  const res = await api(app, { method: 'GET', url: `${AUTH}/providers/` })
  t.equal(res.statusCode, 200)
  t.same(res.data[0], { id: 'test', name: 'Test ID', login_url: `${AUTH}/oidc/test/login/` })
  t.same(res.data.map((p: { id: string }) => p.id), ['test', 'skewed', 'rogue', 'forged'])
  t.equal(res.data[1].name, 'Skewed', 'the name defaults to the id, capitalised')
  const post = await api(app, { method: 'POST', url: `${AUTH}/providers/` })
  t.equal(post.statusCode, 405, 'other methods are 405')
})

t.test('the providers list is empty when none is configured', async (t) => {
  const bare = await build(t)
  const res = await api(bare.app, { method: 'GET', url: `${AUTH}/providers` })
  t.equal(res.statusCode, 200)
  t.same(res.data, [])
})

t.test('login of an unknown provider is 404', async (t) => {
  const res = await api(app, { method: 'GET', url: `${AUTH}/oidc/nope/login/` })
  t.equal(res.statusCode, 404)
  t.same(res.data, { detail: 'Not found.' })
})

t.test('login redirects to the authorization endpoint with PKCE, state and nonce, bound by a short-lived HttpOnly cookie', async (t) => {
  const { res, location, flowCookie } = await startLogin(app, 'test', '?next=/jobs/new', { host: 'evil.example' })
  t.equal(res.statusCode, 302)
  const url = new URL(location!)
  t.equal(`${url.origin}${url.pathname}`, `${idp.issuer}/auth`, 'the discovered authorization endpoint')
  const q = Object.fromEntries(url.searchParams)
  t.equal(q.response_type, 'code')
  t.equal(q.client_id, CLIENT.id)
  t.equal(q.code_challenge_method, 'S256')
  t.match(q.code_challenge, /^[\w-]{43}$/)
  t.match(q.state, /^[\w-]{20,}$/)
  t.match(q.nonce, /^[\w-]{20,}$/)
  t.match(q.scope, /\bopenid\b/)
  t.equal(q.redirect_uri, `http://127.0.0.1:8000${AUTH}/oidc/test/callback/`, 'from the configured HOST/PORT, never the Host header')
  t.ok(flowCookie, 'a flow cookie')
  t.equal(flowCookie!.httpOnly, true)
  t.equal(flowCookie!.sameSite, 'Lax', 'Lax: the provider brings the browser back cross-site')
  t.equal(flowCookie!.maxAge, 600)
  t.equal(flowCookie!.path, `${AUTH}/oidc/`)
  t.notMatch(flowCookie!.value, q.nonce, 'the cookie does not show the nonce in clear') // it is signed JSON in base64url
  t.equal(res.headers['cache-control'], 'no-store')
})

t.test('a new user signs in through the provider: created without a usable password, linked, the session works', async (t) => {
  const result = await signInWith(app, 'test', 'newcomer@example.com', '?next=/jobs/new?x=1')
  t.equal(result.location, '/jobs/new?x=1', 'back to next')
  t.ok(result.token, 'the session cookie is set')
  const cookie = result.res.cookies.find((c) => c.name === 'conveyor_token')!
  t.equal(cookie.httpOnly, true)
  t.equal(cookie.sameSite, 'Strict', 'the same cookie as login/')
  const flowCleared = result.res.cookies.find((c) => c.name === 'conveyor_oidc')
  t.equal(flowCleared?.value, '', 'the flow cookie is cleared')

  const res = await me(app, result.token!)
  t.equal(res.statusCode, 200)
  t.equal(res.data.email, 'newcomer@example.com')
  t.equal(res.data.name, 'Newcomer')
  const user = await db.selectFrom('users').selectAll().where('email', '=', 'newcomer@example.com').executeTakeFirstOrThrow()
  t.equal(hasUsablePassword(user.password), false, 'no usable password')
  t.equal(user.email_verified, true, 'the provider verified the address')
  const links = await db.selectFrom('social_accounts').selectAll().where('user_id', '=', user.id).execute()
  t.same(links.map((l) => [l.provider, l.subject]), [['test', 'newcomer@example.com']])
})

t.test('signing in again finds the user by provider and subject', async (t) => {
  const first = await signInWith(app, 'test', 'returning@example.com')
  const before = await counts()
  const again = await signInWith(app, 'test', 'returning@example.com')
  t.equal(again.location, '/')
  const after = await counts()
  t.equal(after.users, before.users, 'no new user')
  t.equal(after.links, before.links, 'no new link')
  t.equal((await me(app, again.token!)).data.pk, (await me(app, first.token!)).data.pk, 'the same user')
})

t.test('a next that leaves the app lands on / instead', async (t) => {
  for (const next of ['https://evil.example/', '//evil.example/x', '/\\evil.example']) {
    const result = await signInWith(app, 'test', 'wanderer@example.com', `?next=${encodeURIComponent(next)}`)
    t.equal(result.location, '/', `next=${next}`)
  }
})

t.test('a verified provider e-mail links to the existing account', async (t) => {
  const { user } = await userWithToken(main, { email: 'existing@example.com' })
  const result = await signInWith(app, 'test', 'existing@example.com')
  t.equal(result.location, '/')
  t.equal((await me(app, result.token!)).data.pk, user.id, 'signed in as the existing user')
  const row = await db.selectFrom('users').selectAll().where('id', '=', user.id).executeTakeFirstOrThrow()
  t.equal(hasUsablePassword(row.password), true, 'the password is kept')
  t.equal((await db.selectFrom('social_accounts').select('provider').where('user_id', '=', user.id).execute()).length, 1, 'linked')
})

t.test('linking to an account whose own e-mail was never verified takes away its password and sessions', async (t) => {
  // Someone registered the address without owning it; the owner now signs in with a verified e-mail.
  const squatter = await userWithToken(main, { email: 'owner@example.com', emailVerified: false })
  const result = await signInWith(app, 'test', 'owner@example.com')
  t.equal(result.location, '/')
  t.equal((await me(app, result.token!)).data.pk, squatter.user.id)
  const row = await db.selectFrom('users').selectAll().where('id', '=', squatter.user.id).executeTakeFirstOrThrow()
  t.equal(hasUsablePassword(row.password), false, 'the unproven password no longer signs in')
  t.equal(row.email_verified, true)
  const old = await api(app, { method: 'GET', url: `${AUTH}/user/`, headers: squatter.headers })
  t.equal(old.statusCode, 401, 'the earlier session is revoked')
})

t.test('an unverified provider e-mail matching an existing user is refused: no link, nothing created', async (t) => {
  const victim = await userWithToken(main, { email: 'victim@example.com' })
  await assertRefused(t, () => signInWith(app, 'test', 'unverified:victim@example.com'), 'unverified_email')
  t.same(await db.selectFrom('social_accounts').select('id').where('user_id', '=', victim.user.id).execute(), [], 'not linked')
})

t.test('an identity without an e-mail is refused when it matches no one', async (t) => {
  await assertRefused(t, () => signInWith(app, 'test', 'noemail:ghost'), 'email_missing')
})

t.test('a bad state is refused', async (t) => {
  const started = await startLogin(app, 'test')
  const back = await signInAtProvider(started.location!, 'state@example.com')
  back.searchParams.set('state', 'not-the-state-this-browser-started-with')
  await assertRefused(t, () => callback(app, back, started.cookieHeader), 'invalid_state')
  t.notOk(await db.selectFrom('users').select('id').where('email', '=', 'state@example.com').executeTakeFirst())
})

t.test('a callback without the flow cookie (another browser) is refused', async (t) => {
  const started = await startLogin(app, 'test')
  const back = await signInAtProvider(started.location!, 'nocookie@example.com')
  await assertRefused(t, () => callback(app, back, ''), 'invalid_state')
})

t.test('a forged flow cookie is refused', async (t) => {
  const started = await startLogin(app, 'test')
  const back = await signInAtProvider(started.location!, 'forged-cookie@example.com')
  const [payload, sig] = started.flowCookie!.value.split('.')
  const changed = JSON.parse(Buffer.from(payload!, 'base64url').toString())
  changed.next = '/somewhere-else'
  const cookie = `conveyor_oidc=${Buffer.from(JSON.stringify(changed)).toString('base64url')}.${sig}`
  await assertRefused(t, () => callback(app, back, cookie), 'invalid_state')
})

t.test('a replayed code is refused', async (t) => {
  const first = await signInWith(app, 'test', 'replay@example.com')
  t.equal(first.location, '/', 'the first use signs in')
  // An attacker replays the same callback, with a copy of the flow cookie.
  await assertRefused(t, () => callback(app, first.callbackUrl, first.cookieHeader), 'invalid_token')
})

t.test('an ID token with another nonce is refused', async (t) => {
  const started = await startLogin(app, 'test')
  // The provider is asked (by whoever forges the request) for the same state and PKCE but another nonce.
  const forgedRequest = new URL(started.location!)
  forgedRequest.searchParams.set('nonce', 'a-nonce-this-browser-never-saw')
  const back = await signInAtProvider(forgedRequest.href, 'nonce@example.com')
  await assertRefused(t, () => callback(app, back, started.cookieHeader), 'invalid_token')
})

t.test('a code issued to another client is refused', async (t) => {
  const started = await startLogin(app, 'test')
  const otherClient = new URL(started.location!)
  otherClient.searchParams.set('client_id', OTHER_CLIENT_ID)
  const back = await signInAtProvider(otherClient.href, 'other-client@example.com')
  await assertRefused(t, () => callback(app, back, started.cookieHeader), 'invalid_token')
})

t.test('an ID token for another audience is refused', async (t) => {
  await assertRefused(t, () => signInWith(app, 'rogue', 'audience@example.com'), 'invalid_token')
})

t.test('an ID token not signed with a key from the provider’s JWKS is refused', async (t) => {
  await assertRefused(t, () => signInWith(app, 'forged', 'signature@example.com'), 'invalid_token')
})

t.test('an expired ID token is refused', async (t) => {
  await assertRefused(t, () => signInWith(app, 'skewed', 'expired@example.com'), 'invalid_token')
})

t.test('declining at the provider ends at sign-in with cancelled', async (t) => {
  const started = await startLogin(app, 'test')
  const back = await signInAtProvider(started.location!, 'decliner@example.com', { consent: false })
  t.equal(back.searchParams.get('error'), 'access_denied', 'the provider says so')
  await assertRefused(t, () => callback(app, back, started.cookieHeader), 'cancelled')
})

t.test('a callback for an unknown provider is refused', async (t) => {
  await assertRefused(t, () => callback(app, new URL(`http://127.0.0.1:8000${AUTH}/oidc/nope/callback/?code=x&state=y`), ''), 'unknown_provider')
})

t.test('logout revokes a session that social login created', async (t) => {
  const result = await signInWith(app, 'test', 'leaver@example.com')
  t.equal((await me(app, result.token!)).statusCode, 200)
  const out = await api(app, { method: 'POST', url: `${AUTH}/logout/`, headers: { cookie: `conveyor_token=${result.token}`, 'x-requested-with': 'XMLHttpRequest' } })
  t.equal(out.statusCode, 200)
  t.equal((await me(app, result.token!)).statusCode, 401, 'the key stops working')
})

t.test('linked accounts are listed; unlinking the only way to sign in is refused', async (t) => {
  const result = await signInWith(app, 'test', 'only-oidc@example.com')
  const headers = { cookie: `conveyor_token=${result.token}`, 'x-requested-with': 'XMLHttpRequest' }
  const list = await api(app, { method: 'GET', url: `${AUTH}/social-accounts/`, headers })
  t.equal(list.statusCode, 200)
  t.match(list.data, [{ provider: 'test', name: 'Test ID', uid: 'only-oidc@example.com', email: 'only-oidc@example.com', date_joined: String, last_login: String }])
  const refused = await api(app, { method: 'DELETE', url: `${AUTH}/social-accounts/test/`, headers })
  t.equal(refused.statusCode, 400)
  t.match(refused.data.non_field_errors, [/only way to sign in/])
  const body = await api(app, { method: 'DELETE', url: `${AUTH}/social-accounts/`, headers, payload: { provider: 'test' } })
  t.equal(body.statusCode, 400, 'the plain path with a body is refused alike')
  t.equal((await api(app, { method: 'GET', url: `${AUTH}/social-accounts/`, headers })).data.length, 1, 'still linked')
})

t.test('a user with a password may unlink, by path or by body', async (t) => {
  const { user, token } = await userWithToken(main, { email: 'has-password@example.com' })
  await signInWith(app, 'test', 'has-password@example.com')
  const headers = { authorization: `Bearer ${token}` }
  const gone = await api(app, { method: 'DELETE', url: `${AUTH}/social-accounts/test/`, headers })
  t.equal(gone.statusCode, 204)
  t.same((await api(app, { method: 'GET', url: `${AUTH}/social-accounts/`, headers })).data, [])
  t.equal((await api(app, { method: 'DELETE', url: `${AUTH}/social-accounts/test/`, headers })).statusCode, 404, 'not linked any more')

  await signInWith(app, 'test', 'has-password@example.com')
  const byBody = await api(app, { method: 'DELETE', url: `${AUTH}/social-accounts/`, headers, payload: { provider: 'test' } })
  t.equal(byBody.statusCode, 204)
  t.same(await db.selectFrom('social_accounts').select('id').where('user_id', '=', user.id).execute(), [])

  await signInWith(app, 'test', 'has-password@example.com')
  const byQuery = await api(app, { method: 'DELETE', url: `${AUTH}/social-accounts/?provider=test`, headers })
  t.equal(byQuery.statusCode, 204, 'or by query, for clients that drop DELETE bodies')
  const unnamed = await api(app, { method: 'DELETE', url: `${AUTH}/social-accounts/`, headers })
  t.equal(unnamed.statusCode, 400)
  t.same(unnamed.data, { provider: ['This field is required.'] }, 'which provider is required')
})

t.test('with another configured provider linked, the last password-less link may go', async (t) => {
  const result = await signInWith(app, 'test', 'two-links@example.com')
  const user = (await me(app, result.token!)).data
  await db.insertInto('social_accounts').values({ user_id: user.pk, provider: 'rogue', subject: 'two-links', email: null }).execute()
  const headers = { cookie: `conveyor_token=${result.token}`, 'x-requested-with': 'XMLHttpRequest' }
  t.equal((await api(app, { method: 'DELETE', url: `${AUTH}/social-accounts/test/`, headers })).statusCode, 204, 'rogue still signs in')
  t.equal((await api(app, { method: 'DELETE', url: `${AUTH}/social-accounts/rogue/`, headers })).statusCode, 400, 'but not the last one')
})

t.test('an inactive user is refused, even when linked', async (t) => {
  const result = await signInWith(app, 'test', 'suspended@example.com')
  t.equal(result.location, '/')
  await db.updateTable('users').set({ is_active: false }).where('email', '=', 'suspended@example.com').execute()
  await assertRefused(t, () => signInWith(app, 'test', 'suspended@example.com'), 'inactive')
})

t.test('social accounts need a signed-in user, and cookie unlinks need the CSRF header', async (t) => {
  t.equal((await api(app, { method: 'GET', url: `${AUTH}/social-accounts/` })).statusCode, 401)
  const result = await signInWith(app, 'test', 'csrf@example.com')
  const res = await api(app, { method: 'DELETE', url: `${AUTH}/social-accounts/test/`, headers: { cookie: `conveyor_token=${result.token}` } })
  t.equal(res.statusCode, 403)
})

t.test('with registration closed, a new identity is refused and a known one still signs in', async (t) => {
  const closed = await build(t, {
    env: { OIDC_PROVIDERS: 'test', ...providerEnv('test', idp.issuer), ALLOW_REGISTRATION: 'false', FRONTEND_URL: 'http://127.0.0.1:4173' },
  })
  const started = await startLogin(closed.app, 'test', '', { host: 'evil.example' })
  t.equal(new URL(started.location!).searchParams.get('redirect_uri'), `http://127.0.0.1:4173${AUTH}/oidc/test/callback/`, 'the callback URL comes from FRONTEND_URL')
  const { user } = await userWithToken(closed, { email: 'member@example.com' })
  const before = await closed.services.db.selectFrom('users').select('id').execute()
  const refused = await signInWith(closed.app, 'test', 'stranger@example.com')
  t.equal(refused.location, 'http://127.0.0.1:4173/sign-in?error=registration_closed', 'the SPA at FRONTEND_URL says why')
  t.notOk(refused.token)
  t.same(await closed.services.db.selectFrom('users').select('id').execute(), before, 'no user created')
  t.same(await closed.services.db.selectFrom('social_accounts').select('id').execute(), [], 'no link created')
  const member = await signInWith(closed.app, 'test', 'member@example.com')
  t.equal(member.location, 'http://127.0.0.1:4173/')
  t.equal((await me(closed.app, member.token!)).data.pk, user.id)
})

t.test('the OpenAPI document describes the social login routes', async (t) => {
  const res = await api(app, { method: 'GET', url: '/api/schema/' })
  t.equal(res.statusCode, 200)
  const paths = Object.keys(res.data.paths)
  for (const p of ['/api/v1/auth/providers/', '/api/v1/auth/oidc/{provider}/login/', '/api/v1/auth/oidc/{provider}/callback/',
    '/api/v1/auth/social-accounts/', '/api/v1/auth/social-accounts/{provider}/']) {
    t.ok(paths.includes(p), p)
  }
  t.ok(res.data.paths['/api/v1/auth/social-accounts/'].delete, 'unlink on the plain path')
})

t.test('with mandatory e-mail verification, only a provider-verified address makes an account', async (t) => {
  const strict = await build(t, { env: { OIDC_PROVIDERS: 'test', ...providerEnv('test', idp.issuer), ACCOUNT_EMAIL_VERIFICATION: 'mandatory' } })
  const refused = await signInWith(strict.app, 'test', 'unverified:newbie@example.com')
  t.equal(refused.location, '/sign-in?error=unverified_email')
  t.same(await strict.services.db.selectFrom('users').select('id').execute(), [], 'no user created')
  const verified = await signInWith(strict.app, 'test', 'verified@example.com')
  t.equal(verified.location, '/', 'a verified address signs in at once (the provider verified it)')
  t.equal((await me(strict.app, verified.token!)).data.email, 'verified@example.com')
})
