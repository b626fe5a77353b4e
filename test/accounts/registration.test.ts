// POST registration/, registration/verify-email/, registration/resend-email/.
import t from 'tap'
import { makeVerificationKey } from '../../server/accounts/signing.ts'
import { findUserByEmail } from '../../server/accounts/users.ts'
import { api } from '../helper.ts'
import { AUTH, GOOD_PASSWORD, bearer, buildWithMail, linkIn, login, me, register } from './support.ts'

const body = (email: string, extra: Record<string, unknown> = {}) => ({ email, password1: GOOD_PASSWORD, password2: GOOD_PASSWORD, ...extra })
const verify = (app: Parameters<typeof api>[0], key: string) => api(app, { method: 'POST', url: `${AUTH}/registration/verify-email/`, payload: { key } })

t.test('registration returns 201 with a working key and sets the HttpOnly SameSite=Strict cookie', async (t) => {
  const { app } = await buildWithMail(t)
  const res = await register(app, body('New.User@Example.com', { name: 'New User' }))
  t.equal(res.statusCode, 201)
  t.same(Object.keys(res.data), ['key'])
  const cookie = String(res.headers['set-cookie'])
  t.match(cookie, new RegExp(`^conveyor_token=${res.data.key};`))
  t.match(cookie, /HttpOnly/)
  t.match(cookie, /SameSite=Strict/)
  t.notMatch(cookie, /Secure/, 'not Secure outside production')
  const user = await me(app, bearer(res.data.key))
  t.equal(user.statusCode, 200)
  t.equal(user.data.email, 'New.User@example.com', 'the domain is lower-cased, the local part kept')
  t.equal(user.data.name, 'New User')
})

t.test('registration with an e-mail already registered in another case is a 400 on email', async (t) => {
  const { app } = await buildWithMail(t)
  t.equal((await register(app, body('taken@example.com'))).statusCode, 201)
  const res = await register(app, body('TAKEN@Example.COM'))
  t.equal(res.statusCode, 400)
  t.same(res.data, { email: ['User is already registered with this e-mail address.'] })
})

t.test('registration applies Django\'s password validators, every message on password1', async (t) => {
  const { app } = await buildWithMail(t)
  const cases: Array<[Record<string, unknown>, string[]]> = [
    [{ email: 'ann.jones@example.com', password1: 'ann.jones.example', password2: 'ann.jones.example' }, ['The password is too similar to the email address.']],
    [{ email: 'x@example.com', name: 'Margaret Thatcher', password1: 'margaretthatcher', password2: 'margaretthatcher' }, ['The password is too similar to the name.']],
    [{ email: 'x@example.com', password1: 'Ab1!xyz', password2: 'Ab1!xyz' }, ['This password is too short. It must contain at least 8 characters.']],
    [{ email: 'x@example.com', password1: 'qwertyuiop', password2: 'qwertyuiop' }, ['This password is too common.']],
    [{ email: 'x@example.com', password1: '40281937465510', password2: '40281937465510' }, ['This password is entirely numeric.']],
    [{ email: '123456@example.com', password1: '123456', password2: '123456' }, [
      'The password is too similar to the email address.',
      'This password is too short. It must contain at least 8 characters.',
      'This password is too common.',
      'This password is entirely numeric.',
    ]],
  ]
  for (const [payload, messages] of cases) {
    const res = await register(app, payload)
    t.equal(res.statusCode, 400)
    t.same(res.data, { password1: messages }, messages.join(' '))
  }
})

t.test('mismatched passwords are a non-field error, reported with the other problems', async (t) => {
  const { app } = await buildWithMail(t)
  const res = await register(app, { email: 'x@example.com', password1: GOOD_PASSWORD, password2: `${GOOD_PASSWORD}!` })
  t.equal(res.statusCode, 400)
  t.same(res.data, { non_field_errors: ["The two password fields didn't match."] })
  const both = await register(app, { email: 'x@example.com', password1: 'short', password2: 'other' })
  t.same(Object.keys(both.data).sort(), ['non_field_errors', 'password1'])
})

t.test('missing, blank, mistyped and malformed fields are named with DRF\'s messages', async (t) => {
  const { app } = await buildWithMail(t)
  const empty = await register(app, {})
  t.equal(empty.statusCode, 400)
  t.same(empty.data, { email: ['This field is required.'], password1: ['This field is required.'], password2: ['This field is required.'] })
  const bad = await register(app, { email: 'not-an-email', password1: '', password2: 12345678 })
  t.same(bad.data, { email: ['Enter a valid email address.'], password1: ['This field may not be blank.'], password2: ['Not a valid string.'] })
})

t.test('registration closed by ALLOW_REGISTRATION=false is 403', async (t) => {
  const { app } = await buildWithMail(t, { ALLOW_REGISTRATION: 'false' })
  const res = await register(app, body('x@example.com'))
  t.equal(res.statusCode, 403)
  t.same(res.data, { detail: 'You do not have permission to perform this action.' })
})

t.test('registration is throttled per client IP with 429 and Retry-After', async (t) => {
  const { app } = await buildWithMail(t, { THROTTLE_REGISTRATION_PER_IP: '2/m' })
  t.equal((await register(app, body('one@example.com'))).statusCode, 201)
  t.equal((await register(app, { email: 'bad' })).statusCode, 400, 'invalid attempts count too')
  const res = await register(app, body('three@example.com'))
  t.equal(res.statusCode, 429)
  t.match(res.data.detail, /^Request was throttled\. Expected available in \d+ seconds?\.$/)
  t.ok(Number(res.headers['retry-after']) >= 1 && Number(res.headers['retry-after']) <= 60)
  const other = await register(app, body('four@example.com'), { 'x-forwarded-for': '10.0.0.9' })
  t.equal(other.statusCode, 429, 'X-Forwarded-For is not trusted without TRUST_PROXY')
})

t.test('optional verification: the key works at once and the e-mail links to FRONTEND_URL/verify-email/<key>', async (t) => {
  const { app, sink } = await buildWithMail(t, { FRONTEND_URL: 'https://app.example.org/' })
  const res = await register(app, body('verify.me@example.com', { name: 'Vera' }))
  t.equal(res.statusCode, 201)
  t.ok(res.data.key)
  const mail = await sink.waitFor((m) => m.to.includes('verify.me@example.com'))
  t.match(mail.subject, /Confirm your e-mail address/)
  const link = linkIn(mail.text, '/verify-email/')
  t.match(link, /^https:\/\/app\.example\.org\/verify-email\/[^/\s]+$/)
  t.match(mail.html, link, 'the HTML version has the link too')
  const key = link.split('/verify-email/')[1]!
  const ok = await verify(app, key)
  t.equal(ok.statusCode, 200)
  t.same(ok.data, { detail: 'ok' })
  t.equal((await findUserByEmail(app.db, 'verify.me@example.com'))?.email_verified, true)
  t.equal((await verify(app, key)).statusCode, 200, 'confirming twice is harmless')
})

t.test('mandatory verification: 201 with a detail and no key; login refused until the e-mailed key is confirmed', async (t) => {
  const { app, sink } = await buildWithMail(t, { ACCOUNT_EMAIL_VERIFICATION: 'mandatory' })
  const res = await register(app, body('strict@example.com'))
  t.equal(res.statusCode, 201)
  t.same(res.data, { detail: 'Verification e-mail sent.' })
  t.notOk(res.headers['set-cookie'], 'no cookie without a key')
  const refused = await login(app, 'strict@example.com', GOOD_PASSWORD)
  t.equal(refused.statusCode, 400)
  t.same(refused.data, { non_field_errors: ['E-mail is not verified.'] })
  const wrong = await login(app, 'strict@example.com', 'not the password at all')
  t.same(wrong.data, { non_field_errors: ['Unable to log in with provided credentials.'] }, 'a wrong password says nothing about verification')
  const mail = await sink.waitFor((m) => m.to.includes('strict@example.com'))
  const key = linkIn(mail.text, '/verify-email/').split('/verify-email/')[1]!
  t.match(linkIn(mail.text, '/verify-email/'), /^http:\/\/127\.0\.0\.1:8000\/verify-email\//, 'without FRONTEND_URL the link uses the configured HOST:PORT')
  t.equal((await verify(app, key)).statusCode, 200)
  t.equal((await login(app, 'strict@example.com', GOOD_PASSWORD)).statusCode, 200)
})

t.test('verification none: no e-mail is sent', async (t) => {
  const { app, sink } = await buildWithMail(t, { ACCOUNT_EMAIL_VERIFICATION: 'none' })
  t.equal((await register(app, body('quiet@example.com'))).statusCode, 201)
  await app.mailer.idle()
  t.same(sink.messages, [])
})

t.test('verify-email: an unknown, tampered, wrongly-signed or expired key is 404', async (t) => {
  const { app, config } = await buildWithMail(t)
  await register(app, body('keys@example.com'))
  const user = (await findUserByEmail(app.db, 'keys@example.com'))!
  const good = makeVerificationKey(config.secretKey, user, 3600)
  const [uid, exp, sig] = good.split('.') as [string, string, string]
  const keys = {
    garbage: 'nonsense',
    'another user': makeVerificationKey(config.secretKey, { id: user.id + 1, email: user.email }, 3600),
    'tampered expiry': `${uid}.${(parseInt(exp, 36) + 1000).toString(36)}.${sig}`,
    'other secret': makeVerificationKey('some-other-secret', user, 3600),
    expired: makeVerificationKey(config.secretKey, user, 3 * 86_400, Math.floor(Date.now() / 1000) - 3 * 86_400 - 60),
  }
  for (const [what, key] of Object.entries(keys)) {
    const res = await verify(app, key)
    t.equal(res.statusCode, 404, what)
    t.same(res.data, { detail: 'Not found.' }, what)
  }
  t.equal((await verify(app, good)).statusCode, 200, 'while the right key works')
})

t.test('verify-email with GET is 405', async (t) => {
  const { app } = await buildWithMail(t)
  const res = await api(app, { method: 'GET', url: `${AUTH}/registration/verify-email/` })
  t.equal(res.statusCode, 405)
  t.same(res.data, { detail: 'Method "GET" not allowed.' })
})

t.test('resend-email always answers ok, and mails only an unverified account', async (t) => {
  const { app, sink } = await buildWithMail(t)
  await register(app, body('pending@example.com'))
  await app.mailer.idle()
  const before = sink.messages.length
  for (const email of ['pending@example.com', 'nobody@example.com']) {
    const res = await api(app, { method: 'POST', url: `${AUTH}/registration/resend-email/`, payload: { email } })
    t.equal(res.statusCode, 200, email)
    t.same(res.data, { detail: 'ok' }, email)
  }
  await app.mailer.idle()
  t.equal(sink.messages.length, before + 1)
  t.equal(sink.to('pending@example.com').length, 2, 'the unverified account got a second mail')
  const bad = await api(app, { method: 'POST', url: `${AUTH}/registration/resend-email/`, payload: { email: 'nope' } })
  t.same(bad.data, { email: ['Enter a valid email address.'] })
})

t.test('resend-email is throttled per address, whether or not it has an account', async (t) => {
  const { app } = await buildWithMail(t, { THROTTLE_EMAIL_REQUESTS_PER_EMAIL: '2/10m' })
  for (const email of ['pending@example.com', 'nobody@example.com']) {
    const send = () => api(app, { method: 'POST', url: `${AUTH}/registration/resend-email/`, payload: { email } })
    t.equal((await send()).statusCode, 200)
    t.equal((await send()).statusCode, 200)
    const res = await send()
    t.equal(res.statusCode, 429, email)
    t.ok(Number(res.headers['retry-after']) > 0)
  }
})
