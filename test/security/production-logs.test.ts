// In production no log line carries a secret: no password, API key, reset token or reset link,
// verification key, SECRET_KEY — whatever the log level. The app's real logger output is captured.
import t from 'tap'
import type { DestinationStream } from 'pino'
import { makeResetToken, toBase36 } from '../../server/accounts/signing.ts'
import { findUserByEmail } from '../../server/accounts/users.ts'
import { logSafeUrl } from '../../server/logger.ts'
import { api, build } from '../helper.ts'

const SECRET_KEY = 'production-secret-key-for-the-log-test-0123456789'
const PASSWORD = 'my very own passphrase 42'
const NEW_PASSWORD = 'another secret passphrase 43'

function capture(): { stream: DestinationStream; lines: string[] } {
  const lines: string[] = []
  return { lines, stream: { write: (line: string) => { lines.push(line) } } }
}

t.test('production logs, even at trace level, hold no password, key, token or link', async (t) => {
  const { stream, lines } = capture()
  const built = await build(t, {
    logTo: stream,
    env: {
      NODE_ENV: 'production', SECRET_KEY, ALLOWED_HOSTS: 'localhost', FRONTEND_URL: 'https://app.example.org',
      EMAIL_BACKEND: 'log', LOG_LEVEL: 'trace', ACCOUNT_EMAIL_VERIFICATION: 'optional',
    },
  })
  const { app } = built
  const email = 'logged@example.com'
  const registered = await api(app, { method: 'POST', url: '/api/v1/auth/registration/', payload: { email, password1: PASSWORD, password2: PASSWORD } })
  t.equal(registered.statusCode, 201)
  const loggedIn = await api(app, { method: 'POST', url: '/api/v1/auth/login/', payload: { email, password: PASSWORD } })
  t.equal(loggedIn.statusCode, 200)
  const key = loggedIn.data.key as string
  t.equal((await api(app, { method: 'GET', url: '/api/v1/auth/user/', headers: { authorization: `Bearer ${key}` } })).statusCode, 200)
  t.equal((await api(app, { method: 'GET', url: '/api/v1/auth/user/', headers: { cookie: `conveyor_token=${key}` } })).statusCode, 200)
  t.equal((await api(app, { method: 'POST', url: '/api/v1/auth/password/reset/', payload: { email } })).statusCode, 200)
  await app.mailer.idle()
  const user = (await findUserByEmail(app.db, email))!
  const uid = toBase36(user.id)
  const token = makeResetToken(SECRET_KEY, user)
  // The user follows the e-mailed link: the SPA page is requested with the token in its path.
  t.equal((await app.inject({ method: 'GET', url: `/password-reset/${uid}/${token}` })).statusCode, 200)
  t.equal((await app.inject({ method: 'GET', url: `/verify-email/${token}?key=${token}` })).statusCode, 200)
  const confirmed = await api(app, {
    method: 'POST', url: '/api/v1/auth/password/reset/confirm/', payload: { uid, token, new_password1: NEW_PASSWORD, new_password2: NEW_PASSWORD },
  })
  t.equal(confirmed.statusCode, 200)
  t.equal((await api(app, { method: 'POST', url: '/api/v1/auth/login/', payload: { email, password: PASSWORD } })).statusCode, 400)

  const text = lines.join('')
  t.ok(lines.length > 10, `${lines.length} log lines captured`)
  t.match(text, /e-mail not sent \(log backend\)/, 'the mails were logged, by recipient and subject')
  t.match(text, /"url":"\/password-reset\/\[redacted\]"/, 'the SPA request is logged with its token masked')
  const secrets: Record<string, string> = {
    password: PASSWORD, 'new password': NEW_PASSWORD, 'API key': key, 'key signature': key.split('.')[2]!,
    'reset token': token, 'reset link': 'app.example.org/password-reset', SECRET_KEY,
  }
  for (const [what, secret] of Object.entries(secrets)) t.notOk(text.includes(secret), `no ${what} in the log`)
  t.notMatch(text, /verify-email\/(?!\[redacted\])/, 'no verification link or key')
})

t.test('logSafeUrl masks tokens in SPA links and secret-looking query values', async (t) => {
  t.equal(logSafeUrl('/password-reset/1a/abc-123?x=1'), '/password-reset/[redacted]?x=1')
  t.equal(logSafeUrl('/verify-email/k.e.y'), '/verify-email/[redacted]')
  t.equal(logSafeUrl('/api/v1/auth/oidc/corp/callback/?code=c0de&state=s7&next=/jobs'), '/api/v1/auth/oidc/corp/callback/?code=[redacted]&state=[redacted]&next=/jobs')
  t.equal(logSafeUrl('/api/v1/text-stats/list/?page=2'), '/api/v1/text-stats/list/?page=2')
})
