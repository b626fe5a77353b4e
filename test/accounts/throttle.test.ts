// Rate-limit counters in PostgreSQL (shared by instances) and the accounts maintenance function.
import t from 'tap'
import { sql } from 'kysely'
import { deleteExpiredAuthData } from '../../db/repositories/auth-cleanup.ts'
import { createSession } from '../../server/accounts/sessions.ts'
import { hit, peek, reset, type ThrottleRule } from '../../server/accounts/throttle.ts'
import { build, userWithToken } from '../helper.ts'
import { login, secondInstance } from './support.ts'

const rule = (subject: string, limit = 3, seconds = 60): ThrottleRule => ({ scope: 'test', subject, rate: { limit, seconds } })

t.test('hit counts, peek reads without counting, reset forgets', async (t) => {
  const { app } = await build(t)
  const rules = [rule('a@example.com')]
  t.equal(await peek(app.db, rules), null)
  t.equal(await hit(app.db, rules), null)
  t.equal(await hit(app.db, rules), null)
  t.equal(await peek(app.db, rules), null, 'two of three')
  t.equal(await hit(app.db, rules), null, 'the third is still allowed')
  const wait = await peek(app.db, rules)
  t.ok(wait !== null && wait >= 1 && wait <= 60, `limit reached: wait ${wait}s`)
  t.ok((await hit(app.db, rules))! >= 1, 'a fourth hit is over the limit')
  await reset(app.db, rules)
  t.equal(await peek(app.db, rules), null)
  t.equal(await hit(app.db, [rule('x', 0)]), null, 'a zero limit turns a rule off')
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
