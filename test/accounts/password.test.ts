// POST password/change/, password/reset/, password/reset/confirm/.
import t from 'tap'
import { makeResetToken, toBase36 } from '../../server/accounts/signing.ts'
import { findUserByEmail, updateUser } from '../../server/accounts/users.ts'
import { api, build, userWithToken } from '../helper.ts'
import { AUTH, GOOD_PASSWORD, bearer, buildWithMail, linkIn, login, me } from './support.ts'

const NEW_PASSWORD = 'another fine passphrase'
type App = Parameters<typeof api>[0]

const change = (app: App, headers: Record<string, string>, body: Record<string, unknown>) =>
  api(app, { method: 'POST', url: `${AUTH}/password/change/`, headers, payload: body })
const requestReset = (app: App, email: string, headers: Record<string, string> = {}) => api(app, { method: 'POST', url: `${AUTH}/password/reset/`, payload: { email }, headers })
const confirm = (app: App, body: Record<string, unknown>) => api(app, { method: 'POST', url: `${AUTH}/password/reset/confirm/`, payload: body })

t.test('password change saves the new password, revokes the other sessions and keeps this one', async (t) => {
  const built = await build(t)
  await userWithToken(built, { email: 'changer@example.com', password: GOOD_PASSWORD })
  const current = (await login(built.app, 'changer@example.com', GOOD_PASSWORD)).data.key
  const other = (await login(built.app, 'changer@example.com', GOOD_PASSWORD)).data.key
  t.equal((await me(built.app, bearer(other))).statusCode, 200, 'the other session works (and is cached)')
  const res = await change(built.app, bearer(current), { old_password: GOOD_PASSWORD, new_password1: NEW_PASSWORD, new_password2: NEW_PASSWORD })
  t.equal(res.statusCode, 200)
  t.same(res.data, { detail: 'New password has been saved.' })
  t.equal((await me(built.app, bearer(current))).statusCode, 200, 'this session stays')
  t.equal((await me(built.app, bearer(other))).statusCode, 401, 'the other one is revoked')
  t.equal((await login(built.app, 'changer@example.com', GOOD_PASSWORD)).statusCode, 400, 'the old password is gone')
  t.equal((await login(built.app, 'changer@example.com', NEW_PASSWORD)).statusCode, 200)
})

t.test('password change reports a wrong old password and the new password\'s problems together', async (t) => {
  const built = await build(t)
  const { headers } = await userWithToken(built, { email: 'careful@example.com', password: GOOD_PASSWORD })
  const wrongOld = await change(built.app, headers, { old_password: 'nope', new_password1: NEW_PASSWORD, new_password2: NEW_PASSWORD })
  t.equal(wrongOld.statusCode, 400)
  t.same(wrongOld.data, { old_password: ['Your old password was entered incorrectly. Please enter it again.'] })
  const mismatch = await change(built.app, headers, { old_password: GOOD_PASSWORD, new_password1: NEW_PASSWORD, new_password2: 'something else entirely' })
  t.same(mismatch.data, { new_password2: ['The two password fields didn’t match.'] })
  const weak = await change(built.app, headers, { old_password: 'nope', new_password1: '12345', new_password2: '12345' })
  t.same(weak.data, {
    old_password: ['Your old password was entered incorrectly. Please enter it again.'],
    new_password2: ['This password is too short. It must contain at least 8 characters.', 'This password is too common.', 'This password is entirely numeric.'],
  })
  const similar = await change(built.app, headers, { old_password: GOOD_PASSWORD, new_password1: 'careful.example', new_password2: 'careful.example' })
  t.same(similar.data, { new_password2: ['The password is too similar to the email address.'] })
  const missing = await change(built.app, headers, {})
  t.same(Object.keys(missing.data).sort(), ['new_password1', 'new_password2', 'old_password'])
  t.equal((await login(built.app, 'careful@example.com', GOOD_PASSWORD)).statusCode, 200, 'the password did not change')
})

t.test('password change needs a key, and wrong old passwords are throttled', async (t) => {
  const built = await build(t, { env: { THROTTLE_LOGIN_FAILURES_PER_EMAIL: '2/5m' } })
  const anonymous = await change(built.app, {}, { old_password: 'a', new_password1: NEW_PASSWORD, new_password2: NEW_PASSWORD })
  t.equal(anonymous.statusCode, 401)
  const { headers } = await userWithToken(built, { password: GOOD_PASSWORD })
  for (let i = 0; i < 2; i++) t.equal((await change(built.app, headers, { old_password: `guess${i}`, new_password1: NEW_PASSWORD, new_password2: NEW_PASSWORD })).statusCode, 400)
  const res = await change(built.app, headers, { old_password: GOOD_PASSWORD, new_password1: NEW_PASSWORD, new_password2: NEW_PASSWORD })
  t.equal(res.statusCode, 429)
  t.ok(Number(res.headers['retry-after']) >= 1)
})

t.test('password reset always answers the same, and mails a link to /password-reset/<uid>/<token> only to an account', async (t) => {
  const built = await buildWithMail(t, { FRONTEND_URL: 'https://spa.example.org' })
  const { app, sink } = built
  await userWithToken(built, { email: 'forgot@example.com', password: GOOD_PASSWORD })
  const known = await requestReset(app, 'FORGOT@example.com')
  const unknown = await requestReset(app, 'never@example.com')
  for (const res of [known, unknown]) {
    t.equal(res.statusCode, 200)
    t.same(res.data, { detail: 'Password reset e-mail has been sent.' })
  }
  await app.mailer.idle()
  t.equal(sink.messages.length, 1, 'one mail, to the account')
  const mail = sink.messages[0]!
  t.same(mail.to, ['forgot@example.com'])
  t.match(mail.subject, /Password reset/)
  const user = (await findUserByEmail(app.db, 'forgot@example.com'))!
  t.match(linkIn(mail.text, '/password-reset/'), new RegExp(`^https://spa\\.example\\.org/password-reset/${toBase36(user.id)}/[0-9a-z]+-[0-9a-f]{32}$`))
  const malformed = await requestReset(app, 'not an address')
  t.equal(malformed.statusCode, 400)
  t.same(malformed.data, { email: ['Enter a valid email address.'] })
})

t.test('a forged Host header cannot poison the reset link: links come from configuration only', async (t) => {
  for (const env of [{ FRONTEND_URL: 'https://spa.example.org' }, { HOST: '127.0.0.1', PORT: '8123' }] as Record<string, string>[]) {
    const built = await buildWithMail(t, env)
    await userWithToken(built, { email: 'victim@example.com', password: GOOD_PASSWORD })
    const forged = { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'http' }
    t.equal((await requestReset(built.app, 'victim@example.com', forged)).statusCode, 200)
    const mail = await built.sink.waitFor((m) => m.to.includes('victim@example.com'))
    const link = linkIn(mail.text, '/password-reset/')
    t.notMatch(link, /evil/, link)
    t.ok(link.startsWith(env.FRONTEND_URL ?? 'http://127.0.0.1:8123/'), link)
  }
})

t.test('reset confirm sets the password and revokes every session of the user', async (t) => {
  const built = await buildWithMail(t)
  const { app, sink } = built
  const { headers } = await userWithToken(built, { email: 'reset@example.com', password: GOOD_PASSWORD })
  t.equal((await me(app, headers)).statusCode, 200)
  await requestReset(app, 'reset@example.com')
  const mail = await sink.waitFor((m) => m.to.includes('reset@example.com'))
  const [uid, token] = linkIn(mail.text, '/password-reset/').split('/password-reset/')[1]!.split('/') as [string, string]
  const res = await confirm(app, { uid, token, new_password1: NEW_PASSWORD, new_password2: NEW_PASSWORD })
  t.equal(res.statusCode, 200)
  t.same(res.data, { detail: 'Password has been reset with the new password.' })
  t.equal((await me(app, headers)).statusCode, 401, 'the session from before is revoked')
  t.equal((await login(app, 'reset@example.com', GOOD_PASSWORD)).statusCode, 400)
  t.equal((await login(app, 'reset@example.com', NEW_PASSWORD)).statusCode, 200)
})

t.test('a reset token works once', async (t) => {
  const built = await build(t)
  const { user } = await userWithToken(built, { email: 'once@example.com' })
  const token = makeResetToken(built.config.secretKey, (await findUserByEmail(built.app.db, 'once@example.com'))!)
  const body = { uid: toBase36(user.id), token, new_password1: NEW_PASSWORD, new_password2: NEW_PASSWORD }
  t.equal((await confirm(built.app, body)).statusCode, 200)
  const again = await confirm(built.app, { ...body, new_password1: 'yet another passphrase', new_password2: 'yet another passphrase' })
  t.equal(again.statusCode, 400)
  t.same(again.data, { token: ['Invalid value'] })
  t.equal((await login(built.app, 'once@example.com', NEW_PASSWORD)).statusCode, 200, 'the first use stands')
})

t.test('two concurrent uses of one reset token: exactly one wins', async (t) => {
  const built = await build(t)
  const { user } = await userWithToken(built, { email: 'race@example.com' })
  const token = makeResetToken(built.config.secretKey, (await findUserByEmail(built.app.db, 'race@example.com'))!)
  const uid = toBase36(user.id)
  const results = await Promise.all(['first fine passphrase', 'second fine passphrase'].map((p) =>
    confirm(built.app, { uid, token, new_password1: p, new_password2: p })))
  t.same(results.map((r) => r.statusCode).sort(), [200, 400])
})

t.test('an expired reset token is refused (default 3 days, PASSWORD_RESET_TIMEOUT_HOURS)', async (t) => {
  const built = await build(t)
  const { user } = await userWithToken(built, { email: 'late@example.com' })
  const row = (await findUserByEmail(built.app.db, 'late@example.com'))!
  const now = Math.floor(Date.now() / 1000)
  const body = (token: string) => ({ uid: toBase36(user.id), token, new_password1: NEW_PASSWORD, new_password2: NEW_PASSWORD })
  const expired = await confirm(built.app, body(makeResetToken(built.config.secretKey, row, now - 3 * 86_400 - 60)))
  t.equal(expired.statusCode, 400)
  t.same(expired.data, { token: ['Invalid value'] })
  const short = await build(t, { env: { PASSWORD_RESET_TIMEOUT_HOURS: '1' } })
  const other = await userWithToken(short, { email: 'late@example.com' })
  const otherRow = (await findUserByEmail(short.app.db, 'late@example.com'))!
  const twoHours = await confirm(short.app, { ...body(makeResetToken(short.config.secretKey, otherRow, now - 7200)), uid: toBase36(other.user.id) })
  t.same(twoHours.data, { token: ['Invalid value'] }, 'a shorter timeout from the configuration')
  const fresh = await confirm(built.app, body(makeResetToken(built.config.secretKey, row, now - 3 * 86_400 + 60)))
  t.equal(fresh.statusCode, 200, 'just inside three days still works')
})

t.test('reset confirm: a bad uid is a 400 on uid, a bad or foreign token a 400 on token', async (t) => {
  const built = await build(t)
  const { user } = await userWithToken(built, { email: 'victim@example.com' })
  await userWithToken(built, { email: 'attacker@example.com' })
  const otherRow = (await findUserByEmail(built.app.db, 'attacker@example.com'))!
  const base = { new_password1: NEW_PASSWORD, new_password2: NEW_PASSWORD }
  for (const uid of ['zzzzzzzz', '!!', toBase36(user.id + 1000)]) {
    const res = await confirm(built.app, { ...base, uid, token: 'abc-def' })
    t.equal(res.statusCode, 400, uid)
    t.same(res.data, { uid: ['Invalid value'] }, uid)
  }
  const tokens = {
    garbage: 'garbage',
    'another user\'s token': makeResetToken(built.config.secretKey, otherRow),
    'other secret': makeResetToken('another-secret', { ...otherRow, id: user.id }),
  }
  for (const [what, token] of Object.entries(tokens)) {
    const res = await confirm(built.app, { ...base, uid: toBase36(user.id), token })
    t.same(res.data, { token: ['Invalid value'] }, what)
  }
  const missing = await confirm(built.app, {})
  t.same(Object.keys(missing.data).sort(), ['new_password1', 'new_password2', 'token', 'uid'])
})

t.test('reset confirm applies the password rules on new_password2', async (t) => {
  const built = await build(t)
  const { user } = await userWithToken(built, { email: 'rules@example.com' })
  const token = makeResetToken(built.config.secretKey, (await findUserByEmail(built.app.db, 'rules@example.com'))!)
  const uid = toBase36(user.id)
  const mismatch = await confirm(built.app, { uid, token, new_password1: NEW_PASSWORD, new_password2: 'different passphrase' })
  t.same(mismatch.data, { new_password2: ['The two password fields didn’t match.'] })
  const weak = await confirm(built.app, { uid, token, new_password1: 'password', new_password2: 'password' })
  t.same(weak.data, { new_password2: ['This password is too common.'] })
  t.equal((await confirm(built.app, { uid, token, new_password1: NEW_PASSWORD, new_password2: NEW_PASSWORD })).statusCode, 200, 'the token survived the failed attempts')
})

t.test('a login after the reset e-mail invalidates its token, and an inactive user\'s token is refused', async (t) => {
  const built = await build(t)
  const { user } = await userWithToken(built, { email: 'stale@example.com', password: GOOD_PASSWORD })
  const token = makeResetToken(built.config.secretKey, (await findUserByEmail(built.app.db, 'stale@example.com'))!)
  await new Promise((r) => setTimeout(r, 5)) // last_login must differ from the one the token was made with
  t.equal((await login(built.app, 'stale@example.com', GOOD_PASSWORD)).statusCode, 200)
  const res = await confirm(built.app, { uid: toBase36(user.id), token, new_password1: NEW_PASSWORD, new_password2: NEW_PASSWORD })
  t.same(res.data, { token: ['Invalid value'] })
  const fresh = makeResetToken(built.config.secretKey, (await findUserByEmail(built.app.db, 'stale@example.com'))!)
  await updateUser(built.app.db, user.id, { is_active: false })
  const inactive = await confirm(built.app, { uid: toBase36(user.id), token: fresh, new_password1: NEW_PASSWORD, new_password2: NEW_PASSWORD })
  t.same(inactive.data, { token: ['Invalid value'] })
})

t.test('password reset is throttled per address and per client, the same for unknown addresses', async (t) => {
  const { app } = await buildWithMail(t, { THROTTLE_EMAIL_REQUESTS_PER_EMAIL: '2/10m', THROTTLE_EMAIL_REQUESTS_PER_IP: '5/m' })
  for (const email of ['a@example.com', 'b@example.com']) {
    t.equal((await requestReset(app, email)).statusCode, 200)
    t.equal((await requestReset(app, email)).statusCode, 200)
    const res = await requestReset(app, email)
    t.equal(res.statusCode, 429, email)
    t.ok(Number(res.headers['retry-after']) > 0)
  }
  const ip = await requestReset(app, 'c@example.com')
  t.equal(ip.statusCode, 429, 'past the per-client limit, whatever the address')
})
