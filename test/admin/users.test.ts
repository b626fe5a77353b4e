// The staff API for users: list filters, search and ordering; create with and without a password;
// edits under the superuser-only rules; deactivation, set-password and deletion ending sessions at
// once (on another instance too); deletion removing the user's requests and files.
import { access, mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import t from 'tap'
import { buildApp } from '../../server/app.ts'
import { createLogger } from '../../server/logger.ts'
import { openServices } from '../../server/services.ts'
import { api, userWithToken } from '../helper.ts'
import { until } from '../jobs/support.ts'
import { adminApp, auditRows } from './support.ts'

const USERS = '/api/v1/admin/users/'
const exists = (p: string) => access(p).then(() => true, () => false)

t.test('the list: search on e-mail and name in any case, is_active and is_staff filters, paginated', async (t) => {
  const a = await adminApp(t)
  await userWithToken(a.built, { email: 'alice@example.com', name: 'Alice Liddell' })
  await userWithToken(a.built, { email: 'bob@example.org', name: 'Robert ALICEson', isStaff: true })
  const carol = await userWithToken(a.built, { email: 'carol@example.net', name: 'Carol' })
  await a.call('superuser', 'PATCH', `${USERS}${carol.user.id}/`, { is_active: false })

  const search = await a.call('staff', 'GET', `${USERS}?search=ALICE`)
  t.equal(search.statusCode, 200)
  t.same(search.data.results.map((u: any) => u.email).sort(), ['alice@example.com', 'bob@example.org'], 'e-mail or name, any case')
  t.same((await a.call('staff', 'GET', `${USERS}?search=example.net`)).data.results.map((u: any) => u.email), ['carol@example.net'])
  t.same((await a.call('staff', 'GET', `${USERS}?search=100%25`)).data.count, 0, 'a % in the search is a literal')
  t.same((await a.call('staff', 'GET', `${USERS}?is_active=false`)).data.results.map((u: any) => u.email), ['carol@example.net'])
  const staff = await a.call('staff', 'GET', `${USERS}?is_staff=true&search=example.org`)
  t.same(staff.data.results.map((u: any) => u.email), ['bob@example.org'])
  t.equal((await a.call('staff', 'GET', `${USERS}?is_staff=true`)).data.count, 3, 'bob, the staff member and the superuser')
  const item = search.data.results.find((u: any) => u.email === 'alice@example.com')
  t.same(Object.keys(item).sort(), ['date_joined', 'email', 'is_active', 'is_staff', 'is_superuser', 'last_login', 'name', 'pk'])
  const page = await a.call('staff', 'GET', `${USERS}?page_size=2&page=2`)
  t.equal(page.data.count, 6)
  t.equal(page.data.results.length, 2)
  t.match(page.data.previous, /page_size=2/)
  t.equal((await a.call('staff', 'GET', `${USERS}?page=9`)).statusCode, 404)
  t.same((await a.call('staff', 'GET', `${USERS}?is_active=maybe`)).data, { is_active: ['Must be a valid boolean.'] })
})

t.test('ordering by email, date_joined and last_login, either way', async (t) => {
  const a = await adminApp(t)
  const { db } = a.built.services
  const made: string[] = []
  for (const [email, joined, login] of [['m@example.com', '2026-01-03', '2026-02-01'], ['a@example.com', '2026-01-01', null], ['z@example.com', '2026-01-02', '2026-03-01']] as const) {
    const u = await userWithToken(a.built, { email })
    // date_joined is insert-only in the table types; the test back-dates it anyway.
    await db.updateTable('users').set({ date_joined: new Date(joined), last_login: login ? new Date(login) : null } as never).where('id', '=', u.user.id).execute()
    made.push(email)
  }
  const order = async (ordering: string) =>
    (await a.call('staff', 'GET', `${USERS}?search=@example.com&ordering=${ordering}`)).data.results.map((u: any) => u.email).filter((e: string) => made.includes(e))
  t.same(await order('email'), ['a@example.com', 'm@example.com', 'z@example.com'])
  t.same(await order('-email'), ['z@example.com', 'm@example.com', 'a@example.com'])
  t.same(await order('date_joined'), ['a@example.com', 'z@example.com', 'm@example.com'])
  t.same(await order('-date_joined'), ['m@example.com', 'z@example.com', 'a@example.com'])
  t.same(await order('last_login'), ['m@example.com', 'z@example.com', 'a@example.com'], 'never logged in last')
  t.same(await order('-last_login'), ['a@example.com', 'z@example.com', 'm@example.com'], 'never logged in first, as PostgreSQL sorts NULLs')
  const bad = await a.call('staff', 'GET', `${USERS}?ordering=password`)
  t.equal(bad.statusCode, 400)
  t.ok(bad.data.ordering, 'an unknown ordering is named')
})

t.test('create with a password: 201, the account can log in, and the audit entry has no secret', async (t) => {
  const a = await adminApp(t)
  const res = await a.call('staff', 'POST', USERS, { email: 'New.Person@Example.COM', name: 'New Person', password: 'correct horse battery staple' })
  t.equal(res.statusCode, 201)
  t.match(res.data, { pk: Number, email: 'New.Person@example.com', name: 'New Person', is_active: true, is_staff: false, is_superuser: false, last_login: null })
  const login = await api(a.built.app, { method: 'POST', url: '/api/v1/auth/login/', payload: { email: 'new.person@example.com', password: 'correct horse battery staple' } })
  t.equal(login.statusCode, 200)
  const [entry] = await auditRows(a.built)
  t.match(entry, { actor_id: a.staff.user.id, actor_email: a.staff.user.email, action: 'create', object_type: 'user', object_id: String(res.data.pk) })
  t.same(entry!.changes, { email: 'New.Person@example.com', name: 'New Person', is_staff: false })
  t.notMatch(JSON.stringify(entry), /horse|argon|password/i, 'no password, hash or mention of one')
})

t.test('create without a password: the account cannot log in until a reset', async (t) => {
  const a = await adminApp(t)
  const res = await a.call('staff', 'POST', USERS, { email: 'nopass@example.com' })
  t.equal(res.statusCode, 201)
  const row = await a.built.services.db.selectFrom('users').select('password').where('id', '=', res.data.pk).executeTakeFirstOrThrow()
  t.match(row.password, /^!/, "Django's unusable password")
  for (const password of ['', '!', row.password, 'anything at all']) {
    const login = await api(a.built.app, { method: 'POST', url: '/api/v1/auth/login/', payload: { email: 'nopass@example.com', password } })
    t.equal(login.statusCode, 400, `login with ${JSON.stringify(password.slice(0, 12))} is refused`)
  }
})

t.test('create: validators, duplicate e-mail in any case, and is_staff for superusers only — no entry when refused', async (t) => {
  const a = await adminApp(t)
  await userWithToken(a.built, { email: 'taken@example.com' })
  const res = await a.call('staff', 'POST', USERS, { email: 'TAKEN@example.com', password: '123' })
  t.equal(res.statusCode, 400)
  t.same(res.data, {
    email: ['User is already registered with this e-mail address.'],
    password: ['This password is too short. It must contain at least 8 characters.', 'This password is too common.', 'This password is entirely numeric.'],
  }, 'every problem at once')
  t.same((await a.call('staff', 'POST', USERS, { email: 'x@example.com', password: 'x@example.com1' })).data,
    { password: ['The password is too similar to the email address.'] })
  t.same((await a.call('staff', 'POST', USERS, { email: 'not an address' })).data, { email: ['Enter a valid email address.'] })
  t.same((await a.call('staff', 'POST', USERS, { email: 'y@example.com', is_staff: 'yes' })).data, { is_staff: ['Must be a valid boolean.'] })
  const staffMade = await a.call('staff', 'POST', USERS, { email: 'boss@example.com', is_staff: true })
  t.equal(staffMade.statusCode, 403, 'a staff member cannot make staff')
  t.same(await auditRows(a.built), [], 'nothing refused was recorded')
  t.notOk(await a.built.services.db.selectFrom('users').select('id').where('email', '=', 'boss@example.com').executeTakeFirst())
  const bySuper = await a.call('superuser', 'POST', USERS, { email: 'boss@example.com', is_staff: true })
  t.equal(bySuper.statusCode, 201)
  t.equal(bySuper.data.is_staff, true)
  t.equal((await a.call('staff', 'POST', USERS, { email: 'plain@example.com', is_staff: false })).statusCode, 201, 'is_staff false is no change')
})

t.test('edit: staff edit plain users; only a superuser changes is_staff or touches other staff and superusers', async (t) => {
  const a = await adminApp(t)
  const other = await userWithToken(a.built, { isStaff: true, email: 'colleague@example.com' })
  const plain = a.user.user.id
  const patch = (role: 'staff' | 'superuser', pk: number, body: unknown) => a.call(role, 'PATCH', `${USERS}${pk}/`, body)

  const renamed = await patch('staff', plain, { name: 'Renamed' })
  t.equal(renamed.statusCode, 200)
  t.equal(renamed.data.name, 'Renamed')
  t.equal((await patch('staff', plain, { is_staff: true })).statusCode, 403, 'staff cannot promote')
  t.equal((await patch('staff', plain, { is_staff: false, name: 'Same staff flag' })).statusCode, 200, 'sending the current is_staff is no change')
  t.equal((await patch('staff', other.user.id, { name: 'x' })).statusCode, 403, 'staff cannot change another staff member')
  t.equal((await patch('staff', a.superuser.user.id, { name: 'x' })).statusCode, 403, 'nor a superuser')
  t.equal((await patch('staff', a.staff.user.id, { name: 'Me' })).statusCode, 200, 'but can change themselves')
  t.equal((await patch('staff', a.staff.user.id, { is_staff: false })).statusCode, 403, 'not their own staff flag')
  const promoted = await patch('superuser', plain, { is_staff: true })
  t.equal(promoted.statusCode, 200)
  t.equal(promoted.data.is_staff, true)
  t.equal((await patch('superuser', other.user.id, { is_active: false })).statusCode, 200, 'a superuser deactivates staff')
  const put = await a.call('superuser', 'PUT', `${USERS}${plain}/`, { name: 'Put', is_active: true, is_staff: false })
  t.match(put.data, { name: 'Put', is_active: true, is_staff: false })
  t.same((await patch('superuser', plain, { name: 7 })).data, { name: ['Not a valid string.'] })
  t.equal((await patch('superuser', 999999, { name: 'x' })).statusCode, 404)
  t.equal((await a.call('staff', 'GET', `${USERS}abc/`)).statusCode, 404)
  const entries = (await auditRows(a.built)).filter((e) => e.action === 'update')
  t.equal(entries.length, 6, 'one entry per successful edit, none for the refused ones')
  t.same(entries.map((e) => e.changes), [
    { name: 'Put', is_active: true, is_staff: false },
    { is_active: false },
    { is_staff: true },
    { name: 'Me' },
    { name: 'Same staff flag', is_staff: false },
    { name: 'Renamed' },
  ])
})

t.test('nobody deactivates or deletes themselves (400), a superuser neither', async (t) => {
  const a = await adminApp(t)
  for (const role of ['staff', 'superuser'] as const) {
    const me = a[role].user.id
    const off = await a.call(role, 'PATCH', `${USERS}${me}/`, { is_active: false })
    t.equal(off.statusCode, 400, `${role}: deactivate self`)
    t.same(off.data, { is_active: ['You cannot deactivate your own account.'] })
    const del = await a.call(role, 'DELETE', `${USERS}${me}/`)
    t.equal(del.statusCode, 400, `${role}: delete self`)
    t.same(del.data, { detail: 'You cannot delete your own account.' })
  }
  t.equal((await a.call('staff', 'GET', '/api/v1/auth/user/')).statusCode, 200, 'still signed in')
  t.same(await auditRows(a.built), [])
})

t.test('deactivating ends every session of the user at once, on this instance and on another one', async (t) => {
  const a = await adminApp(t)
  const victim = await userWithToken(a.built)
  const second = await userWithToken(a.built, { email: victim.user.email.replace('@', '+2@') })
  // A second instance on the same database, with its own session cache.
  const services = await openServices(a.built.config, createLogger(a.built.config), a.built.url)
  const other = await buildApp(services)
  await other.ready()
  t.teardown(async () => { await other.close(); await services.close() })
  const me = (app: typeof other) => api(app, { method: 'GET', url: '/api/v1/auth/user/', headers: victim.headers })
  t.equal((await me(a.built.app)).statusCode, 200, 'the key works here (and is cached)')
  t.equal((await me(other)).statusCode, 200, 'and there (cached there too)')

  t.equal((await a.call('staff', 'PATCH', `${USERS}${victim.user.id}/`, { is_active: false })).statusCode, 200)
  const here = await me(a.built.app)
  t.equal(here.statusCode, 401)
  t.same(here.data, { detail: 'Invalid token.' })
  const there = await until(() => me(other), (r) => r.statusCode === 401, { timeoutMs: 5000 })
  t.same(there.data, { detail: 'Invalid token.' }, 'the other instance heard of it')
  t.equal((await api(a.built.app, { method: 'GET', url: '/api/v1/auth/user/', headers: second.headers })).statusCode, 200, "another user's key still works")
  const sessions = await a.built.services.db.selectFrom('sessions').select('id').where('user_id', '=', victim.user.id).execute()
  t.same(sessions, [], 'the sessions are gone, so reactivating brings no old key back')
  t.equal((await a.call('staff', 'PATCH', `${USERS}${victim.user.id}/`, { is_active: true })).statusCode, 200)
  t.equal((await me(a.built.app)).statusCode, 401, 'still revoked after reactivation')
})

t.test('set-password: validators apply, the new password works, every old key is revoked', async (t) => {
  const a = await adminApp(t)
  const victim = await userWithToken(a.built, { email: 'victim@example.com' })
  const url = `${USERS}${victim.user.id}/set-password/`
  t.equal((await api(a.built.app, { method: 'GET', url: '/api/v1/auth/user/', headers: victim.headers })).statusCode, 200)
  const weak = await a.call('staff', 'POST', url, { password: 'victim@example.com' })
  t.equal(weak.statusCode, 400)
  t.same(weak.data, { password: ['The password is too similar to the email address.'] })
  t.same((await a.call('staff', 'POST', url, {})).data, { password: ['This field is required.'] })
  t.equal((await api(a.built.app, { method: 'GET', url: '/api/v1/auth/user/', headers: victim.headers })).statusCode, 200, 'a refused change revokes nothing')
  t.same(await auditRows(a.built), [], 'and records nothing')

  const ok = await a.call('staff', 'POST', url, { password: 'a brand new passphrase' })
  t.equal(ok.statusCode, 200)
  t.same(ok.data, { detail: 'Password has been set.' })
  const old = await api(a.built.app, { method: 'GET', url: '/api/v1/auth/user/', headers: victim.headers })
  t.equal(old.statusCode, 401)
  t.same(old.data, { detail: 'Invalid token.' })
  const login = (password: string) => api(a.built.app, { method: 'POST', url: '/api/v1/auth/login/', payload: { email: 'victim@example.com', password } })
  t.equal((await login('a brand new passphrase')).statusCode, 200)
  t.equal((await login('a long enough passphrase')).statusCode, 400, 'the old password is gone')
  const [entry] = await auditRows(a.built)
  t.match(entry, { action: 'set_password', object_type: 'user', object_id: String(victim.user.id), changes: {} })
  t.notMatch(JSON.stringify(entry), /brand new|argon/)
  t.equal((await a.call('staff', 'POST', `${USERS}${a.superuser.user.id}/set-password/`, { password: 'a brand new passphrase' })).statusCode, 403,
    "staff cannot set a superuser's password")
})

t.test("delete: the user's sessions end, their requests, results, files and schedules are removed", async (t) => {
  const a = await adminApp(t)
  const { db } = a.built.services
  const victim = await userWithToken(a.built)
  const keeper = await userWithToken(a.built)
  const create = (headers: Record<string, string>) => a.call(headers, 'POST', '/api/v1/text-stats/create/', { text: 'words and words' })
  const mine = [(await create(victim.headers)).data.id, (await create(victim.headers)).data.id]
  const theirs = (await create(keeper.headers)).data.id
  for (const id of [...mine, theirs]) {
    await mkdir(path.join(a.built.media, id, 'output'), { recursive: true })
    await writeFile(path.join(a.built.media, id, 'output', 'report.txt'), 'x')
  }
  await db.insertInto('processing_results').values({ request_id: mine[0], data: '{}' }).execute()
  const schedule = await a.call('superuser', 'POST', '/api/v1/admin/schedules/', {
    name: 'victim nightly', feature: 'text-stats', cron: '0 3 * * *', input: { text: 'hi there' }, owner: victim.user.id,
  })
  t.equal(schedule.statusCode, 201)

  const res = await a.call('staff', 'DELETE', `${USERS}${victim.user.id}/`)
  t.equal(res.statusCode, 204)
  t.same((await api(a.built.app, { method: 'GET', url: '/api/v1/auth/user/', headers: victim.headers })).data, { detail: 'Invalid token.' })
  t.equal((await a.call('staff', 'GET', `${USERS}${victim.user.id}/`)).statusCode, 404)
  t.same(await db.selectFrom('processing_requests').select('id').where('id', 'in', mine).execute(), [], 'their requests are gone')
  t.same(await db.selectFrom('processing_results').select('request_id').execute(), [], 'and their results')
  for (const id of mine) t.notOk(await exists(path.join(a.built.media, id)), `MEDIA_ROOT/${id} is gone`)
  t.ok(await exists(path.join(a.built.media, theirs)), "another user's files stay")
  t.ok(await db.selectFrom('processing_requests').select('id').where('id', '=', theirs).executeTakeFirst(), "another user's request stays")
  t.notOk(await a.built.services.boss.getSchedule('schedule-tick', schedule.data.id), "the schedule left pg-boss's cron")
  const jobs = await Promise.all(mine.map(async (id) => {
    const row = await db.selectFrom('audit_log').select('id').where('object_id', '=', id).executeTakeFirst()
    return row
  }))
  t.same(jobs, [undefined, undefined], 'the deletion is one entry, on the user')
  const [entry] = await auditRows(a.built)
  t.match(entry, { action: 'delete', object_type: 'user', object_id: String(victim.user.id), changes: { email: victim.user.email, requests_deleted: 2, schedules_deleted: 1 } })
})

t.test('delete: staff cannot delete other staff or a superuser; a superuser can delete staff', async (t) => {
  const a = await adminApp(t)
  const colleague = await userWithToken(a.built, { isStaff: true })
  t.equal((await a.call('staff', 'DELETE', `${USERS}${colleague.user.id}/`)).statusCode, 403)
  t.equal((await a.call('staff', 'DELETE', `${USERS}${a.superuser.user.id}/`)).statusCode, 403)
  t.equal((await a.call('staff', 'DELETE', `${USERS}999999/`)).statusCode, 404)
  t.same(await auditRows(a.built), [])
  t.equal((await a.call('superuser', 'DELETE', `${USERS}${colleague.user.id}/`)).statusCode, 204)
  t.equal((await a.call('staff', 'DELETE', `${USERS}${a.user.user.id}/`)).statusCode, 204, 'staff delete plain users')
  t.equal((await auditRows(a.built)).length, 2)
})
