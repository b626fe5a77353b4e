// Every staff route, for every role: anonymous → 401, a plain user → 403 (DRF's messages), staff and
// superusers → the route's success code.
import t from 'tap'
import { userWithToken } from '../helper.ts'
import { adminApp, ROLES, type Role } from './support.ts'

type App = Awaited<ReturnType<typeof adminApp>>
type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
interface Case { method: Method; url: string; payload?: unknown; ok: number }

let n = 0
/** A plain user to act on, made fresh for each call. */
const target = async (a: App) => (await userWithToken(a.built, { email: `target${++n}@example.com` })).user.id
/** A pending request of the plain user (no engine runs, so it stays pending). */
const pending = async (a: App) => (await a.call('user', 'POST', '/api/v1/text-stats/create/', { text: 'some words here' })).data.id as string
const cancelled = async (a: App) => {
  const id = await pending(a)
  await a.call('user', 'POST', `/api/v1/text-stats/cancel/${id}/`)
  return id
}

const routes: Record<string, (a: App) => Promise<Case>> = {
  'GET users/': async () => ({ method: 'GET', url: '/api/v1/admin/users/', ok: 200 }),
  'POST users/': async () => ({ method: 'POST', url: '/api/v1/admin/users/', payload: { email: `made${++n}@example.com` }, ok: 201 }),
  'GET users/<pk>/': async (a) => ({ method: 'GET', url: `/api/v1/admin/users/${await target(a)}/`, ok: 200 }),
  'PATCH users/<pk>/': async (a) => ({ method: 'PATCH', url: `/api/v1/admin/users/${await target(a)}/`, payload: { name: 'Renamed' }, ok: 200 }),
  'PUT users/<pk>/': async (a) => ({ method: 'PUT', url: `/api/v1/admin/users/${await target(a)}/`, payload: { name: 'Renamed', is_active: true }, ok: 200 }),
  'DELETE users/<pk>/': async (a) => ({ method: 'DELETE', url: `/api/v1/admin/users/${await target(a)}/`, ok: 204 }),
  'POST users/<pk>/set-password/': async (a) => ({
    method: 'POST', url: `/api/v1/admin/users/${await target(a)}/set-password/`, payload: { password: 'correct horse battery staple' }, ok: 200,
  }),
  'GET jobs/': async () => ({ method: 'GET', url: '/api/v1/admin/jobs/', ok: 200 }),
  'GET jobs/<id>/': async (a) => ({ method: 'GET', url: `/api/v1/admin/jobs/${await pending(a)}/`, ok: 200 }),
  'POST jobs/<id>/retry/': async (a) => ({ method: 'POST', url: `/api/v1/admin/jobs/${await cancelled(a)}/retry/`, ok: 202 }),
  'POST jobs/<id>/cancel/': async (a) => ({ method: 'POST', url: `/api/v1/admin/jobs/${await pending(a)}/cancel/`, ok: 200 }),
  'DELETE jobs/<id>/': async (a) => ({ method: 'DELETE', url: `/api/v1/admin/jobs/${await pending(a)}/`, ok: 204 }),
  'POST jobs/bulk/': async (a) => ({ method: 'POST', url: '/api/v1/admin/jobs/bulk/', payload: { action: 'cancel', ids: [await pending(a)] }, ok: 200 }),
  'GET audit-log/': async () => ({ method: 'GET', url: '/api/v1/admin/audit-log/', ok: 200 }),
}

const expected: Record<Role, (c: Case) => { status: number; body?: unknown }> = {
  anonymous: () => ({ status: 401, body: { detail: 'Authentication credentials were not provided.' } }),
  user: () => ({ status: 403, body: { detail: 'You do not have permission to perform this action.' } }),
  staff: (c) => ({ status: c.ok }),
  superuser: (c) => ({ status: c.ok }),
}

t.test('each admin route answers each role as the contract says', async (t) => {
  const a = await adminApp(t)
  for (const [name, make] of Object.entries(routes)) {
    for (const role of ROLES) {
      const c = await make(a)
      const res = await a.call(role, c.method, c.url, c.payload)
      const want = expected[role](c)
      t.equal(res.statusCode, want.status, `${name} as ${role}: ${want.status}`)
      if (want.body) t.same(res.data, want.body, `${name} as ${role}: the body`)
      if (role === 'anonymous') t.equal(res.headers['www-authenticate'], 'Bearer', `${name} as anonymous: WWW-Authenticate`)
    }
  }
})

t.test('a plain user is refused before anything is written: no audit entry, the target unchanged', async (t) => {
  const a = await adminApp(t)
  const pk = await target(a)
  t.equal((await a.call('user', 'DELETE', `/api/v1/admin/users/${pk}/`)).statusCode, 403)
  t.equal((await a.call('user', 'PATCH', `/api/v1/admin/users/${pk}/`, { is_active: false })).statusCode, 403)
  const row = await a.built.services.db.selectFrom('users').select('is_active').where('id', '=', pk).executeTakeFirst()
  t.same(row, { is_active: true })
  t.same(await a.built.services.db.selectFrom('audit_log').selectAll().execute(), [])
})
