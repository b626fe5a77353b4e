// The session cache and its LISTEN/NOTIFY invalidation: revocations take effect at once on every
// instance, and a lost listener means no caching rather than stale answers.
import t from 'tap'
import { sql } from 'kysely'
import { updateUser } from '../../server/accounts/users.ts'
import { api, build, userWithToken } from '../helper.ts'
import { AUTH, GOOD_PASSWORD, bearer, eventually, login, me, secondInstance } from './support.ts'

// How long another instance may take to see a revocation: NOTIFY arrives within milliseconds.
const PROPAGATION_MS = 500

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
  t.equal((await api(built.app, { method: 'POST', url: `${AUTH}/logout/`, headers: bearer(key) })).statusCode, 200)
  t.ok(await eventually(async () => (await me(other, bearer(key))).statusCode === 401, PROPAGATION_MS), 'revoked on the other instance')
})

t.test('a password change on one instance revokes the other sessions on another, and keeps the current one', async (t) => {
  const built = await build(t)
  const other = await secondInstance(t, built)
  await userWithToken(built, { email: 'pw@example.com', password: GOOD_PASSWORD })
  const current = (await login(built.app, 'pw@example.com', GOOD_PASSWORD)).data.key
  const stale = (await login(built.app, 'pw@example.com', GOOD_PASSWORD)).data.key
  for (const key of [current, stale]) t.equal((await me(other, bearer(key))).statusCode, 200)
  const res = await api(built.app, { method: 'POST', url: `${AUTH}/password/change/`, headers: bearer(current), payload: { old_password: GOOD_PASSWORD, new_password1: 'a brand new passphrase', new_password2: 'a brand new passphrase' } })
  t.equal(res.statusCode, 200)
  t.ok(await eventually(async () => (await me(other, bearer(stale))).statusCode === 401, PROPAGATION_MS), 'the other session is revoked there')
  t.equal((await me(other, bearer(current))).statusCode, 200, 'the current one still works there')
})

t.test('deactivating a user is seen by another instance at once', async (t) => {
  const built = await build(t)
  const other = await secondInstance(t, built)
  const { user, headers } = await userWithToken(built)
  t.equal((await me(other, headers)).statusCode, 200)
  await updateUser(built.app.db, user.id, { is_active: false })
  t.ok(await eventually(async () => (await me(other, headers)).statusCode === 401, PROPAGATION_MS))
  await updateUser(built.app.db, user.id, { is_active: true })
  t.ok(await eventually(async () => (await me(other, headers)).statusCode === 200, PROPAGATION_MS), 'and reactivating it too')
})

t.test('a changed name is seen by another instance at once', async (t) => {
  const built = await build(t)
  const other = await secondInstance(t, built)
  const { headers } = await userWithToken(built, { name: 'Before' })
  t.equal((await me(other, headers)).data.name, 'Before')
  await api(built.app, { method: 'PATCH', url: `${AUTH}/user/`, headers, payload: { name: 'After' } })
  t.ok(await eventually(async () => (await me(other, headers)).data.name === 'After', PROPAGATION_MS))
})

t.test('while the listener is down the cache is bypassed; it reconnects and caches again', async (t) => {
  const built = await build(t)
  const { user, headers } = await userWithToken(built)
  const cache = built.app.sessionCache
  t.equal((await me(built.app, headers)).statusCode, 200)
  t.equal(cache.size, 1)
  await sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
    WHERE application_name = 'conveyor-auth-listener' AND datname = current_database()`.execute(built.app.db)
  t.ok(await eventually(async () => !cache.live, 2_000), 'the loss is noticed')
  t.equal(cache.size, 0, 'the cache was flushed')
  // A revocation nobody announces: only a bypassed cache can see it.
  await built.app.db.deleteFrom('sessions').where('user_id', '=', user.id).execute()
  t.equal((await me(built.app, headers)).statusCode, 401, 'answered from the database (a reconnect would have flushed too)')
  t.ok(await eventually(async () => cache.live, 5_000), 'the listener reconnects')
  const again = await userWithToken(built, { email: `again-${user.email}` })
  t.equal((await me(built.app, again.headers)).statusCode, 200)
  t.equal(cache.size, 1, 'and the cache is used again')
})

t.test('a cached session still expires on time', async (t) => {
  const built = await build(t)
  const { user } = await userWithToken(built)
  const sid = crypto.randomUUID()
  await built.app.db.insertInto('sessions').values({ id: sid, user_id: user.id, expires_at: new Date(Date.now() + 300), ip: null, user_agent: null }).execute()
  const key = built.app.jwt.sign({ sid, sub: String(user.id) }, { expiresIn: 3600 }) // outlives its session
  t.equal((await me(built.app, bearer(key))).statusCode, 200)
  t.equal(built.app.sessionCache.size, 1)
  t.ok(await eventually(async () => (await me(built.app, bearer(key))).statusCode === 401, 2_000), 'refused once the session expired')
})

t.test('AUTH_CACHE_SECONDS=0 turns the cache off', async (t) => {
  const built = await build(t, { env: { AUTH_CACHE_SECONDS: '0' } })
  const { headers } = await userWithToken(built)
  t.equal((await me(built.app, headers)).statusCode, 200)
  t.notOk(built.app.sessionCache.live)
  t.equal(built.app.sessionCache.size, 0)
})
