// GET/PUT/PATCH user/ and GET /api/v1/users/me/.
import t from 'tap'
import { api, build, userWithToken } from '../helper.ts'
import { AUTH, me } from './support.ts'

t.test('user/ and users/me/ return the signed-in user\'s pk, email, name, is_staff and date_joined', async (t) => {
  const built = await build(t)
  const { user, headers } = await userWithToken(built, { email: 'me@example.com', name: 'Me Myself' })
  const expected = { pk: user.id, email: 'me@example.com', name: 'Me Myself', is_staff: false, date_joined: user.date_joined.toISOString() }
  for (const url of [`${AUTH}/user/`, `${AUTH}/user`, '/api/v1/users/me/', '/api/v1/users/me']) {
    const res = await api(built.app, { method: 'GET', url, headers })
    t.equal(res.statusCode, 200, url)
    t.same(res.data, expected, url)
  }
})

t.test('user/ without a key is 401 with WWW-Authenticate', async (t) => {
  const { app } = await build(t)
  for (const method of ['GET', 'PUT', 'PATCH'] as const) {
    const res = await api(app, { method, url: `${AUTH}/user/`, payload: method === 'GET' ? undefined : { name: 'x' } })
    t.equal(res.statusCode, 401, method)
    t.same(res.data, { detail: 'Authentication credentials were not provided.' })
    t.equal(res.headers['www-authenticate'], 'Bearer')
  }
})

t.test('PUT and PATCH change the name; pk, email and is_staff are read-only and ignored', async (t) => {
  const built = await build(t)
  const { user, headers } = await userWithToken(built, { email: 'rename@example.com', name: 'Old' })
  const put = await api(built.app, { method: 'PUT', url: `${AUTH}/user/`, headers, payload: { name: 'New', pk: 999, email: 'evil@example.com', is_staff: true } })
  t.equal(put.statusCode, 200)
  t.same(put.data, { pk: user.id, email: 'rename@example.com', name: 'New', is_staff: false, date_joined: user.date_joined.toISOString() })
  const patch = await api(built.app, { method: 'PATCH', url: `${AUTH}/user/`, headers, payload: { name: '' } })
  t.equal(patch.statusCode, 200)
  t.equal(patch.data.name, '', 'a blank name is allowed, as Django\'s blank=True')
  const empty = await api(built.app, { method: 'PATCH', url: `${AUTH}/user/`, headers, payload: {} })
  t.equal(empty.statusCode, 200, 'nothing to change is fine')
  t.equal((await me(built.app, headers)).data.name, '', 'the change is seen at once (the cached user was dropped)')
})

t.test('an invalid name is a 400 on name', async (t) => {
  const built = await build(t)
  const { headers } = await userWithToken(built)
  const long = await api(built.app, { method: 'PATCH', url: `${AUTH}/user/`, headers, payload: { name: 'x'.repeat(256) } })
  t.equal(long.statusCode, 400)
  t.same(long.data, { name: ['Ensure this field has no more than 255 characters.'] })
  const number = await api(built.app, { method: 'PUT', url: `${AUTH}/user/`, headers, payload: { name: 42 } })
  t.same(number.data, { name: ['Not a valid string.'] })
})

t.test('the auth routes are documented in the OpenAPI schema', async (t) => {
  const { app } = await build(t)
  const schema = (await api(app, { method: 'GET', url: '/api/schema/' })).data
  for (const path of ['registration/', 'registration/verify-email/', 'registration/resend-email/', 'login/', 'logout/', 'user/',
    'password/change/', 'password/reset/', 'password/reset/confirm/']) {
    t.ok(schema.paths[`${AUTH}/${path}`], path)
  }
  t.ok(schema.paths['/api/v1/users/me/'])
  t.ok(schema.paths[`${AUTH}/login/`].post.responses['200'].content['application/json'].schema.properties.user, 'response schemas are included')
})
