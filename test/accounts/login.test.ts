// POST login/ and logout/, and how a key is accepted or refused (header, cookie, CSRF, JWT checks).
import t from 'tap'
import { argon2Sync, createHmac, randomBytes, randomUUID } from 'node:crypto'
import { ARGON2_PARAMS, needsRehash } from '../../server/accounts/passwords.ts'
import { findUserByEmail, setPasswordHash, updateUser } from '../../server/accounts/users.ts'
import { makeResetToken, toBase36 } from '../../server/accounts/signing.ts'
import { api, build, userWithToken } from '../helper.ts'
import { AUTH, GOOD_PASSWORD, bearer, login, me } from './support.ts'

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')
/** An HS256 JWT made by hand, to present keys our server did not issue. */
function signJwt(payload: Record<string, unknown>, secret: string, header: Record<string, unknown> = { alg: 'HS256', typ: 'JWT' }): string {
  const unsigned = `${b64url(header)}.${b64url(payload)}`
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`
}
/** An HMAC-signed JWT under any `alg` header: for keys a verifier must refuse although the secret is right. */
function signJwtWith(hash: string, alg: string, payload: Record<string, unknown>, secret: string): string {
  const unsigned = `${b64url({ alg, typ: 'JWT' })}.${b64url(payload)}`
  return `${unsigned}.${createHmac(hash, secret).update(unsigned).digest('base64url')}`
}

t.test('login returns the key and the user, and sets the cookie; the e-mail is case-insensitive', async (t) => {
  const built = await build(t)
  const { user } = await userWithToken(built, { email: 'Login.Me@example.com', password: GOOD_PASSWORD, name: 'Lee' })
  const res = await login(built.app, 'LOGIN.ME@EXAMPLE.COM', GOOD_PASSWORD)
  t.equal(res.statusCode, 200)
  t.same(Object.keys(res.data).sort(), ['key', 'user'])
  t.same(res.data.user, { pk: user.id, email: 'Login.Me@example.com', name: 'Lee', is_staff: false, date_joined: user.date_joined.toISOString() })
  t.match(String(res.headers['set-cookie']), /^conveyor_token=[^;]+; .*HttpOnly; SameSite=Strict/)
  t.equal((await me(built.app, bearer(res.data.key))).statusCode, 200)
  t.ok((await findUserByEmail(built.app.db, 'login.me@example.com'))?.last_login, 'last_login is recorded')
})

t.test('a wrong password and an unknown e-mail get the same answer', async (t) => {
  const built = await build(t)
  await userWithToken(built, { email: 'known@example.com', password: GOOD_PASSWORD })
  const wrong = await login(built.app, 'known@example.com', 'wrong password here')
  const unknown = await login(built.app, 'unknown@example.com', GOOD_PASSWORD)
  for (const res of [wrong, unknown]) {
    t.equal(res.statusCode, 400)
    t.same(res.data, { non_field_errors: ['Unable to log in with provided credentials.'] })
    t.notOk(res.headers['set-cookie'])
  }
})

t.test('an inactive user cannot log in, even with the right password', async (t) => {
  const built = await build(t)
  const { user } = await userWithToken(built, { email: 'inactive@example.com', password: GOOD_PASSWORD })
  await updateUser(built.app.db, user.id, { is_active: false })
  const res = await login(built.app, 'inactive@example.com', GOOD_PASSWORD)
  t.equal(res.statusCode, 400)
  t.same(res.data, { non_field_errors: ['Unable to log in with provided credentials.'] })
})

t.test('login without e-mail, without password or with a malformed e-mail says so as dj-rest-auth does', async (t) => {
  const { app } = await build(t)
  const noEmail = await api(app, { method: 'POST', url: `${AUTH}/login/`, payload: { password: 'x' } })
  t.equal(noEmail.statusCode, 400)
  t.same(noEmail.data, { non_field_errors: ['Must include "email" and "password".'] })
  const blank = await api(app, { method: 'POST', url: `${AUTH}/login/`, payload: { email: '', password: 'x' } })
  t.same(blank.data, { non_field_errors: ['Must include "email" and "password".'] })
  const noPassword = await api(app, { method: 'POST', url: `${AUTH}/login/`, payload: { email: 'a@example.com' } })
  t.same(noPassword.data, { password: ['This field is required.'] })
  const malformed = await api(app, { method: 'POST', url: `${AUTH}/login/`, payload: { email: 'a@', password: 'x' } })
  t.same(malformed.data, { email: ['Enter a valid email address.'] })
})

t.test('repeated failures for one address are throttled (429, Retry-After), even for the right password', async (t) => {
  const built = await build(t, { env: { THROTTLE_LOGIN_FAILURES_PER_EMAIL: '3/5m' } })
  await userWithToken(built, { email: 'target@example.com', password: GOOD_PASSWORD })
  for (let i = 0; i < 3; i++) t.equal((await login(built.app, 'target@example.com', `guess ${i}`)).statusCode, 400)
  const res = await login(built.app, 'TARGET@example.com', GOOD_PASSWORD)
  t.equal(res.statusCode, 429)
  t.match(res.data, { detail: /^Request was throttled\. Expected available in \d+ seconds?\.$/ })
  const retry = Number(res.headers['retry-after'])
  t.ok(retry >= 1 && retry <= 300, `Retry-After ${retry}`)
  const unknown = await login(built.app, 'nobody@example.com', 'x')
  t.equal(unknown.statusCode, 400, 'another address from the same client is still answered')
})

t.test('repeated failures from one client IP are throttled across addresses', async (t) => {
  const built = await build(t, { env: { THROTTLE_LOGIN_FAILURES_PER_IP: '3/m' } })
  for (let i = 0; i < 3; i++) t.equal((await login(built.app, `spray${i}@example.com`, 'Winter2026!')).statusCode, 400)
  const res = await login(built.app, 'spray9@example.com', 'Winter2026!')
  t.equal(res.statusCode, 429)
  t.ok(Number(res.headers['retry-after']) >= 1)
  const elsewhere = await api(built.app, { method: 'POST', url: `${AUTH}/login/`, payload: { email: 'spray9@example.com', password: 'x' }, remoteAddress: '192.0.2.7' })
  t.equal(elsewhere.statusCode, 400, 'another client is not affected')
})

t.test('a successful login clears the address\'s failure count', async (t) => {
  const built = await build(t, { env: { THROTTLE_LOGIN_FAILURES_PER_EMAIL: '2/5m' } })
  await userWithToken(built, { email: 'typo@example.com', password: GOOD_PASSWORD })
  t.equal((await login(built.app, 'typo@example.com', 'typo')).statusCode, 400)
  t.equal((await login(built.app, 'typo@example.com', GOOD_PASSWORD)).statusCode, 200)
  t.equal((await login(built.app, 'typo@example.com', 'typo')).statusCode, 400)
  t.equal((await login(built.app, 'typo@example.com', GOOD_PASSWORD)).statusCode, 200, 'one failure after a success is not two')
})

t.test('a password hashed with older argon2 parameters is rehashed at login', async (t) => {
  const built = await build(t)
  const { user } = await userWithToken(built, { email: 'old@example.com', password: GOOD_PASSWORD })
  const salt = randomBytes(16)
  const old = { memory: 8_192, passes: 1, parallelism: 1, tagLength: 32 }
  const tag = argon2Sync('argon2id', { message: Buffer.from(GOOD_PASSWORD), nonce: salt, ...old })
  const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '')
  await setPasswordHash(built.app.db, user.id, `$argon2id$v=19$m=${old.memory},t=${old.passes},p=${old.parallelism}$${b64(salt)}$${b64(tag)}`)
  t.equal((await login(built.app, 'old@example.com', GOOD_PASSWORD)).statusCode, 200, 'the old hash still verifies')
  const stored = (await findUserByEmail(built.app.db, 'old@example.com'))!.password
  t.notOk(needsRehash(stored), 'now stored with today\'s parameters')
  t.match(stored, `$m=${ARGON2_PARAMS.memory},t=${ARGON2_PARAMS.passes},p=${ARGON2_PARAMS.parallelism}$`)
  t.equal((await login(built.app, 'old@example.com', GOOD_PASSWORD)).statusCode, 200)
})

t.test('logout revokes the key at once and clears the cookie', async (t) => {
  const built = await build(t)
  await userWithToken(built, { email: 'bye@example.com', password: GOOD_PASSWORD })
  const { key } = (await login(built.app, 'bye@example.com', GOOD_PASSWORD)).data
  t.equal((await me(built.app, bearer(key))).statusCode, 200, 'the key works (and is now cached)')
  const res = await api(built.app, { method: 'POST', url: `${AUTH}/logout/`, headers: bearer(key) })
  t.equal(res.statusCode, 200)
  t.same(res.data, { detail: 'Successfully logged out.' })
  t.match(String(res.headers['set-cookie']), /^conveyor_token=; .*Expires=Thu, 01 Jan 1970/)
  const after = await me(built.app, bearer(key))
  t.equal(after.statusCode, 401)
  t.same(after.data, { detail: 'Invalid token.' })
})

t.test('logout revokes only its own session', async (t) => {
  const built = await build(t)
  await userWithToken(built, { email: 'two@example.com', password: GOOD_PASSWORD })
  const first = (await login(built.app, 'two@example.com', GOOD_PASSWORD)).data.key
  const second = (await login(built.app, 'two@example.com', GOOD_PASSWORD)).data.key
  await api(built.app, { method: 'POST', url: `${AUTH}/logout/`, headers: bearer(first) })
  t.equal((await me(built.app, bearer(first))).statusCode, 401)
  t.equal((await me(built.app, bearer(second))).statusCode, 200)
})

t.test('logout without a key, or with a dead one, still answers 200 and clears the cookie', async (t) => {
  const { app } = await build(t)
  for (const headers of [{}, { authorization: 'Bearer not-a-jwt' }]) {
    const res = await api(app, { method: 'POST', url: `${AUTH}/logout/`, headers })
    t.equal(res.statusCode, 200)
    t.same(res.data, { detail: 'Successfully logged out.' })
    t.match(String(res.headers['set-cookie']), /^conveyor_token=;/)
  }
})

t.test('the cookie authenticates; an unsafe method with it needs X-Requested-With', async (t) => {
  const built = await build(t)
  await userWithToken(built, { email: 'spa@example.com', password: GOOD_PASSWORD })
  const { key } = (await login(built.app, 'spa@example.com', GOOD_PASSWORD)).data
  const cookie = `conveyor_token=${key}`
  t.equal((await me(built.app, { cookie })).statusCode, 200, 'GET with the cookie alone')
  const forged = await api(built.app, { method: 'PATCH', url: `${AUTH}/user/`, headers: { cookie }, payload: { name: 'Mallory' } })
  t.equal(forged.statusCode, 403)
  t.same(forged.data, { detail: 'CSRF check failed.' })
  const ours = await api(built.app, { method: 'PATCH', url: `${AUTH}/user/`, headers: { cookie, 'x-requested-with': 'XMLHttpRequest' }, payload: { name: 'Sam' } })
  t.equal(ours.statusCode, 200)
  t.equal(ours.data.name, 'Sam')
  const header = await api(built.app, { method: 'PATCH', url: `${AUTH}/user/`, headers: bearer(key), payload: { name: 'Sam B' } })
  t.equal(header.statusCode, 200, 'a key in the Authorization header needs no such proof')
  const logout = await api(built.app, { method: 'POST', url: `${AUTH}/logout/`, headers: { cookie } })
  t.equal(logout.statusCode, 403, 'logout by cookie is an unsafe method too')
  t.equal((await me(built.app, { cookie })).statusCode, 200, 'so the session survived')
})

t.test('a tampered, wrongly-signed, unsigned, expired or orphaned JWT is "Invalid token."', async (t) => {
  const built = await build(t)
  const { user, token } = await userWithToken(built)
  const other = await userWithToken(built)
  const [header, payload, signature] = token.split('.') as [string, string, string]
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString())
  const now = Math.floor(Date.now() / 1000)
  const keys = {
    'tampered payload (another user)': `${header}.${b64url({ ...claims, sub: String(other.user.id) })}.${signature}`,
    'tampered signature': `${header}.${payload}.${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`,
    'signed with another secret': signJwt(claims, 'not-the-server-secret'),
    'alg none': `${b64url({ alg: 'none', typ: 'JWT' })}.${payload}.`,
    expired: signJwt({ ...claims, iat: now - 7200, exp: now - 3600 }, built.config.secretKey),
    'no session behind it': signJwt({ sid: randomUUID(), sub: String(user.id), iat: now, exp: now + 3600 }, built.config.secretKey),
    'session of another user': signJwt({ ...claims, sub: String(other.user.id) }, built.config.secretKey),
    'not a uuid': signJwt({ sid: "x' OR 1=1 --", sub: String(user.id), iat: now, exp: now + 3600 }, built.config.secretKey),
    'alg None': `${b64url({ alg: 'None', typ: 'JWT' })}.${payload}.`,
    'alg NONE with the old signature': `${b64url({ alg: 'NONE', typ: 'JWT' })}.${payload}.${signature}`,
    'HS512 with the right secret': signJwtWith('sha512', 'HS512', claims, built.config.secretKey),
    'RS256 header, HMAC-signed with the secret (algorithm confusion)': signJwtWith('sha256', 'RS256', claims, built.config.secretKey),
    'kid naming an empty key, signed with it': signJwt(claims, '', { alg: 'HS256', typ: 'JWT', kid: '../../../dev/null' }),
    'not yet valid': signJwt({ ...claims, nbf: now + 3600 }, built.config.secretKey),
    'empty signature': `${header}.${payload}.`,
  }
  for (const [what, key] of Object.entries(keys)) {
    const res = await me(built.app, bearer(key))
    t.equal(res.statusCode, 401, what)
    t.same(res.data, { detail: 'Invalid token.' }, what)
  }
  for (const [what, key] of Object.entries(keys)) {
    const res = await me(built.app, { cookie: `conveyor_token=${key}` })
    t.same([res.statusCode, res.data], [401, { detail: 'Invalid token.' }], `${what}, in the cookie`)
  }
  t.equal((await me(built.app, bearer(token))).statusCode, 200, 'the real key still works')
  t.equal((await me(built.app, { authorization: `Basic ${token}` })).statusCode, 401, 'an unknown scheme')
})

t.test('keys from before a password change or reset, or of a deactivated user, are "Invalid token."', async (t) => {
  const built = await build(t, { env: { SMTP_URL: 'smtp://127.0.0.1:1' } })
  const { user } = await userWithToken(built, { email: 'moved@example.com', password: GOOD_PASSWORD })
  const stolen = (await login(built.app, 'moved@example.com', GOOD_PASSWORD)).data.key
  const current = (await login(built.app, 'moved@example.com', GOOD_PASSWORD)).data.key
  t.equal((await me(built.app, bearer(stolen))).statusCode, 200, 'both keys work (and are cached)')
  const changed = await api(built.app, {
    method: 'POST', url: `${AUTH}/password/change/`, headers: bearer(current),
    payload: { old_password: GOOD_PASSWORD, new_password1: 'a brand new passphrase', new_password2: 'a brand new passphrase' },
  })
  t.equal(changed.statusCode, 200)
  t.same((await me(built.app, bearer(stolen))).data, { detail: 'Invalid token.' }, 'a key from before the change')
  t.equal((await me(built.app, bearer(current))).statusCode, 200, 'the changing session stays')

  const found = (await findUserByEmail(built.app.db, 'moved@example.com'))!
  const token = makeResetToken(built.config.secretKey, found)
  const reset = await api(built.app, {
    method: 'POST', url: `${AUTH}/password/reset/confirm/`,
    payload: { uid: toBase36(user.id), token, new_password1: 'yet another passphrase', new_password2: 'yet another passphrase' },
  })
  t.equal(reset.statusCode, 200)
  t.same((await me(built.app, bearer(current))).data, { detail: 'Invalid token.' }, 'every key from before a reset')

  const fresh = (await login(built.app, 'moved@example.com', 'yet another passphrase')).data.key
  t.equal((await me(built.app, bearer(fresh))).statusCode, 200)
  await updateUser(built.app.db, user.id, { is_active: false })
  built.app.sessionCache.forget({ users: [user.id] })
  t.same((await me(built.app, bearer(fresh))).data, { detail: 'Invalid token.' }, 'a deactivated user\'s key')
})

t.test('an expired session is refused even when the JWT is still valid', async (t) => {
  const built = await build(t)
  const { user, token } = await userWithToken(built)
  t.equal((await me(built.app, bearer(token))).statusCode, 200)
  await built.app.db.updateTable('sessions').set({ expires_at: new Date(Date.now() - 1000) }).where('user_id', '=', user.id).execute()
  built.app.sessionCache.forget({ users: [user.id] }) // the row was changed behind the app's back
  t.equal((await me(built.app, bearer(token))).statusCode, 401)
})
