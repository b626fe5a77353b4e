// Rate-limit counters in PostgreSQL (shared by instances) and the accounts maintenance function.
import t from 'tap'
import { sql } from 'kysely'
import { deleteExpiredAuthData } from '../../db/repositories/auth-cleanup.ts'
import { createSession } from '../../server/accounts/sessions.ts'
import { hit, refund, reset, type ThrottleRule } from '../../server/accounts/throttle.ts'
import { build, userWithToken } from '../helper.ts'
import { login, secondInstance } from './support.ts'

const rule = (subject: string, limit = 3, seconds = 60): ThrottleRule => ({ scope: 'test', subject, rate: { limit, seconds } })

t.test('hit counts and decides on the counted value; refund takes one back; reset forgets', async (t) => {
  const { app } = await build(t)
  const rules = [rule('a@example.com')]
  t.equal(await hit(app.db, rules), null)
  t.equal(await hit(app.db, rules), null)
  t.equal(await hit(app.db, rules), null, 'the third is still allowed')
  const wait = await hit(app.db, rules)
  t.ok(wait !== null && wait >= 1 && wait <= 60, `a fourth is over the limit: wait ${wait}s`)
  await refund(app.db, rules)
  await refund(app.db, rules)
  t.equal(await hit(app.db, rules), null, 'two refunded: one more fits')
  await reset(app.db, rules)
  t.equal(await app.db.selectFrom('auth_throttles').select('key').executeTakeFirst(), undefined)
  t.equal(await hit(app.db, [rule('x', 0)]), null, 'a zero limit turns a rule off')
})

t.test('of 60 simultaneous hits against a limit of 5, exactly 5 pass', async (t) => {
  const { app } = await build(t)
  const answers = await Promise.all(Array.from({ length: 60 }, () => hit(app.db, [rule('burst', 5, 86_400), rule('ip', 1000, 86_400)])))
  t.equal(answers.filter((a) => a === null).length, 5)
})

t.test('a burst of 50 parallel wrong logins on two instances gets at most the limit of password checks', async (t) => {
  // Each 400 is one argon2 check, each 429 none.
  // Small pools: the race is in the database either way, and the shared server has few connections.
  // The default limit (5) over a day-long window: a fixed window that ended mid-burst would count twice.
  const env = { DATABASE_POOL_SIZE: '4', THROTTLE_LOGIN_FAILURES_PER_EMAIL: '5/1d' }
  const built = await build(t, { env })
  const other = await secondInstance(t, built, env)
  await userWithToken(built, { email: 'victim@example.com', password: 'the real passphrase' })
  const answers = await Promise.all(Array.from({ length: 50 }, (_, i) =>
    login(i % 2 ? other : built.app, 'victim@example.com', `guess ${i}`, {}).then((r) => r.statusCode)))
  const checked = answers.filter((s) => s === 400).length
  t.comment(`400 (password checked): ${checked}, 429: ${answers.filter((s) => s === 429).length}`)
  t.same(answers.filter((s) => s !== 400 && s !== 429), [], 'every answer is a 400 or a 429')
  t.equal(checked, built.config.throttle.loginFailuresPerEmail.limit)
  t.equal(answers.filter((s) => s === 429).length, 50 - checked)
})

t.test('a burst of parallel wrong old passwords on password change gets at most the limit of checks', async (t) => {
  const built = await build(t, { env: { THROTTLE_LOGIN_FAILURES_PER_EMAIL: '3/1d' } })
  const { headers } = await userWithToken(built)
  const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => built.app.inject({
    method: 'POST', url: '/api/v1/auth/password/change/', headers,
    payload: { old_password: `guess ${i}`, new_password1: 'a brand new passphrase', new_password2: 'a brand new passphrase' },
  }).then((r) => r.statusCode)))
  t.equal(answers.filter((s) => s === 400).length, 3)
  t.equal(answers.filter((s) => s === 429).length, 17)
})

t.test('right passwords do not count against the client\'s failure limit', async (t) => {
  const built = await build(t, { env: { THROTTLE_LOGIN_FAILURES_PER_IP: '2/m' } })
  await userWithToken(built, { email: 'often@example.com', password: 'the real passphrase' })
  for (let i = 0; i < 4; i++) t.equal((await login(built.app, 'often@example.com', 'the real passphrase')).statusCode, 200, `login ${i + 1}`)
  t.equal((await login(built.app, 'often@example.com', 'wrong')).statusCode, 400)
  t.equal((await login(built.app, 'often@example.com', 'wrong')).statusCode, 400)
  t.equal((await login(built.app, 'often@example.com', 'wrong')).statusCode, 429, 'the third failure of the minute')
})

t.test('concurrent hits are counted exactly, in one row per key and window', async (t) => {
  const { app } = await build(t)
  await Promise.all(Array.from({ length: 25 }, () => hit(app.db, [rule('busy', 100), rule('other', 100)])))
  const rows = await app.db.selectFrom('auth_throttles').select(['key', 'hits']).orderBy('key').execute()
  t.same(rows, [{ key: 'test:busy', hits: 25 }, { key: 'test:other', hits: 25 }])
})

t.test('failed logins on two instances sharing a database add up to one limit', async (t) => {
  const built = await build(t, { env: { THROTTLE_LOGIN_FAILURES_PER_EMAIL: '4/5m' } })
  const other = await secondInstance(t, built, { THROTTLE_LOGIN_FAILURES_PER_EMAIL: '4/5m' })
  for (let i = 0; i < 4; i++) t.equal((await login(i % 2 ? other : built.app, 'shared@example.com', 'wrong')).statusCode, 400)
  t.equal((await login(built.app, 'shared@example.com', 'wrong')).statusCode, 429)
  t.equal((await login(other, 'shared@example.com', 'wrong')).statusCode, 429)
})

t.test('deleteExpiredAuthData deletes expired sessions and ended throttle windows, nothing else', async (t) => {
  const built = await build(t)
  const { user } = await userWithToken(built)
  const db = built.app.db
  const expired = await createSession(db, user.id, 60)
  await db.updateTable('sessions').set({ expires_at: new Date(Date.now() - 1000) }).where('id', '=', expired.id).execute()
  await hit(db, [rule('live')])
  await db.insertInto('auth_throttles').values({ key: 'test:old', window_start: new Date(Date.now() - 120_000), hits: 9, expires_at: new Date(Date.now() - 60_000) }).execute()
  t.same(await deleteExpiredAuthData(db), { sessions: 1, throttles: 1 })
  const sessions = await db.selectFrom('sessions').select('id').execute()
  t.equal(sessions.length, 1, 'the live session stays')
  t.same((await db.selectFrom('auth_throttles').select('key').execute()).map((r) => r.key), ['test:live'])
  t.same(await deleteExpiredAuthData(db), { sessions: 0, throttles: 0 }, 'idempotent')
  const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM auth_throttles`.execute(db)
  t.equal(rows[0]!.n, 1)
})
