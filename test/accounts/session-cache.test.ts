// The session cache and its LISTEN/NOTIFY invalidation: revocations take effect at once on every
// instance, and a lost listener means no caching rather than stale answers.
import t from 'tap'
import { sql } from 'kysely'
import { updateUser } from '../../server/accounts/users.ts'
import { api, build, userWithToken } from '../helper.ts'
import { until } from '../jobs/support.ts'
import { AUTH, GOOD_PASSWORD, announced, bearer, liveness, login, me, secondInstance } from './support.ts'

// "At once" means: as soon as the other instance has received the announcement (its cache says
// so), its very next request sees the change. No test here waits a fixed time or asserts one.
const sessionOf = (app: { jwt: { decode(key: string): unknown } }, key: string) => (app.jwt.decode(key) as { sid: string }).sid

t.test('a key is answered from the cache after the first lookup', async (t) => {
  const built = await build(t)
  const { headers } = await userWithToken(built)
  t.ok(built.app.sessionCache.live, 'the listener is connected')
  t.equal(built.app.sessionCache.size, 0)
  t.equal((await me(built.app, headers)).statusCode, 200)
  t.equal(built.app.sessionCache.size, 1)
  t.equal((await me(built.app, headers)).statusCode, 200)
})

t.test('logout on one instance makes the key fail on another at once', async (t) => {
  const built = await build(t)
  const other = await secondInstance(t, built)
  await userWithToken(built, { email: 'multi@example.com', password: GOOD_PASSWORD })
  const { key } = (await login(built.app, 'multi@example.com', GOOD_PASSWORD)).data
  t.equal((await me(other, bearer(key))).statusCode, 200, 'the other instance accepts (and caches) the key')
  t.equal(other.sessionCache.size, 1)
  const sid = sessionOf(built.app, key)
  const reached = announced(other.sessionCache, (c) => c.sessions?.includes(sid) ?? false)
  t.equal((await api(built.app, { method: 'POST', url: `${AUTH}/logout/`, headers: bearer(key) })).statusCode, 200)
  await reached
  t.equal(other.sessionCache.size, 0, 'the other instance dropped the key')
  t.equal((await me(other, bearer(key))).statusCode, 401, 'revoked on the other instance')
})

t.test('a password change on one instance revokes the other sessions on another, and keeps the current one', async (t) => {
  const built = await build(t)
  const other = await secondInstance(t, built)
  const { user } = await userWithToken(built, { email: 'pw@example.com', password: GOOD_PASSWORD })
  const current = (await login(built.app, 'pw@example.com', GOOD_PASSWORD)).data.key
  const stale = (await login(built.app, 'pw@example.com', GOOD_PASSWORD)).data.key
  for (const key of [current, stale]) t.equal((await me(other, bearer(key))).statusCode, 200)
  const reached = announced(other.sessionCache, (c) => c.users?.includes(user.id) ?? false)
  const res = await api(built.app, { method: 'POST', url: `${AUTH}/password/change/`, headers: bearer(current), payload: { old_password: GOOD_PASSWORD, new_password1: 'a brand new passphrase', new_password2: 'a brand new passphrase' } })
  t.equal(res.statusCode, 200)
  await reached
  t.equal((await me(other, bearer(stale))).statusCode, 401, 'the other session is revoked there')
  t.equal((await me(other, bearer(current))).statusCode, 200, 'the current one still works there')
})

t.test('deactivating a user is seen by another instance at once', async (t) => {
  const built = await build(t)
  const other = await secondInstance(t, built)
  const { user, headers } = await userWithToken(built)
  t.equal((await me(other, headers)).statusCode, 200)
  const ofUser = (c: { users?: number[] }) => c.users?.includes(user.id) ?? false
  let reached = announced(other.sessionCache, ofUser)
  await updateUser(built.app.db, user.id, { is_active: false })
  await reached
  t.equal((await me(other, headers)).statusCode, 401)
  reached = announced(other.sessionCache, ofUser)
  await updateUser(built.app.db, user.id, { is_active: true })
  await reached
  t.equal((await me(other, headers)).statusCode, 200, 'and reactivating it too')
})

t.test('a changed name is seen by another instance at once', async (t) => {
  const built = await build(t)
  const other = await secondInstance(t, built)
  const { user, headers } = await userWithToken(built, { name: 'Before' })
  t.equal((await me(other, headers)).data.name, 'Before')
  const reached = announced(other.sessionCache, (c) => c.users?.includes(user.id) ?? false)
  await api(built.app, { method: 'PATCH', url: `${AUTH}/user/`, headers, payload: { name: 'After' } })
  await reached
  t.equal((await me(other, headers)).data.name, 'After')
})

t.test('while the listener is down the cache is bypassed; it reconnects and caches again', async (t) => {
  const built = await build(t)
  const { user, headers } = await userWithToken(built)
  const cache = built.app.sessionCache
  t.equal((await me(built.app, headers)).statusCode, 200)
  t.equal(cache.size, 1)
  await sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
    WHERE application_name = 'conveyor-auth-listener' AND datname = current_database()`.execute(built.app.db)
  await liveness(cache, false) // the loss is noticed
  t.notOk(cache.live, 'the loss is noticed')
  t.equal(cache.size, 0, 'the cache was flushed')
  // A revocation nobody announces: only a bypassed cache can see it.
  await built.app.db.deleteFrom('sessions').where('user_id', '=', user.id).execute()
  t.equal((await me(built.app, headers)).statusCode, 401, 'answered from the database (a reconnect would have flushed too)')
  await liveness(cache, true)
  t.ok(cache.live, 'the listener reconnects')
  const again = await userWithToken(built, { email: `again-${user.email}` })
  t.equal((await me(built.app, again.headers)).statusCode, 200)
  t.equal(cache.size, 1, 'and the cache is used again')
})

t.test('a cached session stops working once its session expires', async (t) => {
  const built = await build(t)
  const { user } = await userWithToken(built)
  const sid = crypto.randomUUID()
  await built.app.db.insertInto('sessions').values({ id: sid, user_id: user.id, expires_at: new Date(Date.now() + 300), ip: null, user_agent: null }).execute()
  const key = built.app.jwt.sign({ sid, sub: String(user.id) }, { expiresIn: 3600 }) // outlives its session
  t.equal((await me(built.app, bearer(key))).statusCode, 200)
  t.equal(built.app.sessionCache.size, 1)
  // Waits on the state (the clock passing the expiry), asking until the answer changes.
  const after = await until(() => me(built.app, bearer(key)), (r) => r.statusCode !== 200)
  t.equal(after.statusCode, 401, 'refused once the session expired')
  t.equal(built.app.sessionCache.size, 0, 'and the entry is gone')
})

t.test('AUTH_CACHE_SECONDS=0 turns the cache off', async (t) => {
  const built = await build(t, { env: { AUTH_CACHE_SECONDS: '0' } })
  const { headers } = await userWithToken(built)
  t.equal((await me(built.app, headers)).statusCode, 200)
  t.notOk(built.app.sessionCache.live)
  t.equal(built.app.sessionCache.size, 0)
})

t.test('a full cache evicts the least recently used key, and an announcement still finds the rest', async (t) => {
  const { SessionCache } = await import('../../server/accounts/session-cache.ts')
  const cache = new SessionCache(60, 2)
  cache.setLive(true)
  const hour = Date.now() + 3_600_000
  const row = (id: number) => async () => ({ id, email: `u${id}@example.com`, name: '', is_staff: false, is_superuser: false, date_joined: new Date(), session_id: `s${id}`, expires_at: new Date(hour) })
  for (const id of [1, 2]) await cache.load(`key-${id}`, { sessionId: `s${id}`, userId: id, expiresAt: hour }, row(id))
  t.ok(cache.get('key-1'), 'key-1 used: key-2 is now the least recent')
  await cache.load('key-3', { sessionId: 's3', userId: 3, expiresAt: hour }, row(3))
  t.equal(cache.size, 2)
  t.notOk(cache.get('key-2'), 'key-2 was evicted')
  cache.forget({ users: [1], sessions: ['s2'] })
  t.notOk(cache.get('key-1'), 'forgotten by its user')
  t.ok(cache.get('key-3'), 'the others stay')
  cache.forget({ sessions: ['s3'] })
  t.equal(cache.size, 0, 'forgotten by its session')
})
