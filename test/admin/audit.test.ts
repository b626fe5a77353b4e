// The audit log: an entry for every staff write (users, jobs, schedules) with the fields written and
// never a secret, read newest first with filters; and no entry without its change, nor a change
// without its entry, when either side fails (validation, or a forced failure inside the transaction).
import { access, mkdir } from 'node:fs/promises'
import path from 'node:path'
import t from 'tap'
import { sql } from 'kysely'
import { withoutSecrets } from '../../db/repositories/audit.ts'
import { api, userWithToken } from '../helper.ts'
import { adminApp, auditRows } from './support.ts'

const AUDIT = '/api/v1/admin/audit-log/'
const SCHEDULES = '/api/v1/admin/schedules/'
const exists = (p: string) => access(p).then(() => true, () => false)
type App = Awaited<ReturnType<typeof adminApp>>

const schedule = { name: 'nightly', feature: 'text-stats', cron: '0 2 * * *', input: { text: 'hello there' } }

/** Every insert into audit_log fails from now on: each audited write must then roll back whole. */
async function breakAuditLog(a: App) {
  const { db } = a.built.services
  await sql`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'forced failure'; END $$`.execute(db)
  await sql`CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION refuse()`.execute(db)
}

t.test('schedule writes are recorded: create, update, delete and run-now, with the fields written', async (t) => {
  const a = await adminApp(t)
  const created = await a.call('staff', 'POST', SCHEDULES, schedule)
  t.equal(created.statusCode, 201)
  const id = created.data.id
  t.equal((await a.call('staff', 'PATCH', `${SCHEDULES}${id}/`, { cron: ' 15 3 * * * ', enabled: false })).statusCode, 200)
  t.equal((await a.call('staff', 'POST', `${SCHEDULES}${id}/run-now/`)).statusCode, 202)
  const bad = await a.call('staff', 'PATCH', `${SCHEDULES}${id}/`, { cron: 'every day' })
  t.equal(bad.statusCode, 400, 'an invalid cron is refused…')
  t.equal((await a.call('superuser', 'DELETE', `${SCHEDULES}${id}/`)).statusCode, 204)
  const entries = (await auditRows(a.built)).reverse()
  const run = await a.built.services.db.selectFrom('processing_requests').select('id').where('schedule_id', 'is', null).executeTakeFirstOrThrow()
  t.same(entries.map((e) => [e.action, e.object_type, e.object_id, e.actor_id]), [
    ['create', 'schedule', id, a.staff.user.id],
    ['update', 'schedule', id, a.staff.user.id],
    ['run_now', 'schedule', id, a.staff.user.id],
    ['delete', 'schedule', id, a.superuser.user.id],
  ], '…and not recorded')
  t.same(entries[0]!.changes, {
    name: 'nightly', feature: 'text-stats', cron: '0 2 * * *', timezone: 'UTC', input: { text: 'hello there' }, enabled: true, description: '', owner: a.staff.user.id,
  })
  t.same(entries[1]!.changes, { cron: '15 3 * * *', enabled: false }, 'only the fields the PATCH wrote')
  t.same(entries[2]!.changes, { request: run.id }, 'run-now names the request it created (its schedule link was cleared by the delete)')
  t.same(entries[3]!.changes, { name: 'nightly' })
})

t.test('the list: newest first, the contract shape, filters on actor, action, object_type and object_id', async (t) => {
  const a = await adminApp(t)
  const made = await a.call('staff', 'POST', '/api/v1/admin/users/', { email: 'one@example.com', password: 'a secret passphrase' })
  await a.call('superuser', 'PATCH', `/api/v1/admin/users/${made.data.pk}/`, { name: 'One' })
  const job = (await a.call('user', 'POST', '/api/v1/text-stats/create/', { text: 'some words' })).data.id
  await a.call('staff', 'POST', `/api/v1/admin/jobs/${job}/cancel/`)

  const all = await a.call('staff', 'GET', AUDIT)
  t.equal(all.statusCode, 200)
  t.equal(all.data.count, 3)
  t.same(all.data.results.map((e: any) => e.action), ['cancel', 'update', 'create'], 'newest first')
  t.match(all.data.results[1], {
    id: Number, at: String, actor: { pk: a.superuser.user.id, email: a.superuser.user.email },
    action: 'update', object_type: 'user', object_id: String(made.data.pk), changes: { name: 'One' },
  })
  t.same(Object.keys(all.data.results[0]).sort(), ['action', 'actor', 'at', 'changes', 'id', 'object_id', 'object_type'])
  t.ok(Math.abs(Date.parse(all.data.results[0].at) - Date.now()) < 60_000, 'at is the time of the write')
  const actions = async (query: string) => (await a.call('staff', 'GET', `${AUDIT}?${query}`)).data.results.map((e: any) => e.action)
  t.same(await actions(`actor=${a.staff.user.id}`), ['cancel', 'create'])
  t.same(await actions('action=update'), ['update'])
  t.same(await actions('object_type=user'), ['update', 'create'])
  t.same(await actions(`object_type=job&object_id=${job}`), ['cancel'])
  t.same(await actions(`object_id=${made.data.pk}`), ['update', 'create'])
  t.same(await actions('action=nothing'), [])
  t.same((await a.call('staff', 'GET', `${AUDIT}?actor=abc`)).data, { actor: ['A valid integer is required.'] })
  const page = await a.call('staff', 'GET', `${AUDIT}?page_size=2&page=2`)
  t.same(page.data.results.map((e: any) => e.action), ['create'])
  t.notMatch(all.body, /secret passphrase|argon2/, 'no secret anywhere in the log')
})

t.test('an entry outlives its actor', async (t) => {
  const a = await adminApp(t)
  const temp = await userWithToken(a.built, { isStaff: true })
  await api(a.built.app, { method: 'PATCH', url: `/api/v1/admin/users/${a.user.user.id}/`, headers: temp.headers, payload: { name: 'By temp' } })
  t.equal((await a.call('superuser', 'DELETE', `/api/v1/admin/users/${temp.user.id}/`)).statusCode, 204)
  const list = await a.call('staff', 'GET', `${AUDIT}?action=update`)
  t.same(list.data.results[0].actor, { pk: temp.user.id, email: temp.user.email })
})

t.test('secrets never reach the log, at any depth, whatever a caller passes', async (t) => {
  t.same(withoutSecrets({
    name: 'x', password: 'p', new_password1: 'p', token: 't', key: 'k', api_key: 'k', password_hash: 'h', nested: { secret: 's', ok: 1 }, list: [{ token: 't', keep: true }],
  }), { name: 'x', nested: { ok: 1 }, list: [{ keep: true }] })
})

t.test('a forced failure of the audit insert rolls every write back whole: users', async (t) => {
  const a = await adminApp(t)
  const { db } = a.built.services
  const victim = await userWithToken(a.built)
  const request = (await a.call(victim.headers, 'POST', '/api/v1/text-stats/create/', { text: 'kept words' })).data.id
  await mkdir(path.join(a.built.media, request, 'input'), { recursive: true })
  await breakAuditLog(a)
  const users = '/api/v1/admin/users/'

  t.equal((await a.call('staff', 'POST', users, { email: 'ghost@example.com' })).statusCode, 500)
  t.notOk(await db.selectFrom('users').select('id').where('email', '=', 'ghost@example.com').executeTakeFirst(), 'no user created')
  t.equal((await a.call('staff', 'PATCH', `${users}${victim.user.id}/`, { name: 'Changed', is_active: false })).statusCode, 500)
  t.match(await db.selectFrom('users').select(['name', 'is_active']).where('id', '=', victim.user.id).executeTakeFirst(), { name: '', is_active: true })
  t.equal((await a.call(victim.headers, 'GET', '/api/v1/auth/user/')).statusCode, 200, 'its sessions were not revoked')
  t.equal((await a.call('staff', 'POST', `${users}${victim.user.id}/set-password/`, { password: 'another passphrase' })).statusCode, 500)
  t.equal((await a.call(victim.headers, 'GET', '/api/v1/auth/user/')).statusCode, 200, 'set-password rolled back: the key still works')
  const login = await api(a.built.app, { method: 'POST', url: '/api/v1/auth/login/', payload: { email: victim.user.email, password: 'a long enough passphrase' } })
  t.equal(login.statusCode, 200, 'the old password still works')
  t.equal((await a.call('staff', 'DELETE', `${users}${victim.user.id}/`)).statusCode, 500)
  t.ok(await db.selectFrom('users').select('id').where('id', '=', victim.user.id).executeTakeFirst(), 'the user is still there')
  t.ok(await db.selectFrom('processing_requests').select('id').where('id', '=', request).executeTakeFirst(), 'with their request')
  t.equal((await a.call(victim.headers, 'GET', `/api/v1/text-stats/status/${request}/`)).data.status, 'pending', 'not even cancelled')
  t.ok(await exists(path.join(a.built.media, request)), 'and their files')
  t.same(await auditRows(a.built), [])
})

t.test('a forced failure of the audit insert rolls every write back whole: jobs and schedules', async (t) => {
  const a = await adminApp(t)
  const { db, boss } = a.built.services
  const create = async () => (await a.call('user', 'POST', '/api/v1/text-stats/create/', { text: 'kept words' })).data.id as string
  const failed = await create()
  await db.updateTable('processing_requests').set({ status: 'failed' }).where('id', '=', failed).execute()
  const pending = await create()
  const sched = (await a.call('staff', 'POST', SCHEDULES, schedule)).data
  const jobsBefore = await db.selectFrom('processing_requests').select(['id', 'status', 'job_id']).orderBy('id').execute()
  const cronBefore = await boss.getSchedules('schedule-tick')
  await db.deleteFrom('audit_log').execute()
  await breakAuditLog(a)

  t.equal((await a.call('staff', 'POST', `/api/v1/admin/jobs/${failed}/retry/`)).statusCode, 500)
  t.equal((await a.call('staff', 'POST', `/api/v1/admin/jobs/${pending}/cancel/`)).statusCode, 500)
  t.equal((await a.call('staff', 'DELETE', `/api/v1/admin/jobs/${pending}/`)).statusCode, 500)
  const bulk = await a.call('staff', 'POST', '/api/v1/admin/jobs/bulk/', { action: 'cancel', ids: [pending, failed] })
  t.same(bulk.data.results, [
    { id: pending, ok: false, detail: 'Internal server error.' },
    { id: failed, ok: false, detail: 'The request is already failed.' },
  ], 'in a bulk action, each item fails on its own')
  t.equal((await a.call('staff', 'POST', SCHEDULES, { ...schedule, name: 'another' })).statusCode, 500)
  t.equal((await a.call('staff', 'PATCH', `${SCHEDULES}${sched.id}/`, { enabled: false })).statusCode, 500)
  t.equal((await a.call('staff', 'POST', `${SCHEDULES}${sched.id}/run-now/`)).statusCode, 500)
  t.equal((await a.call('staff', 'DELETE', `${SCHEDULES}${sched.id}/`)).statusCode, 500)

  t.same(await db.selectFrom('processing_requests').select(['id', 'status', 'job_id']).orderBy('id').execute(), jobsBefore,
    'every request as it was: no retry, cancel, delete or run')
  t.equal((await boss.getJobById(`feature.text-stats`, jobsBefore.find((r) => r.id === pending)!.job_id!))?.state, 'created', 'its job not cancelled')
  t.same(await db.selectFrom('schedules').select(['name', 'enabled']).execute(), [{ name: 'nightly', enabled: true }], 'the schedule as it was')
  t.same(await boss.getSchedules('schedule-tick'), cronBefore, "pg-boss's cron as it was")
  t.same(await auditRows(a.built), [])
})

t.test('a change that fails at commit leaves no entry', async (t) => {
  const a = await adminApp(t)
  const { db } = a.built.services
  const id = (await a.call('user', 'POST', '/api/v1/text-stats/create/', { text: 'some words' })).data.id
  await db.updateTable('processing_requests').set({ status: 'failed' }).where('id', '=', id).execute()
  // Checked at COMMIT, after the audit entry was written in the same transaction.
  await sql`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'forced failure at commit'; END $$`.execute(db)
  await sql`CREATE CONSTRAINT TRIGGER refuse_requests AFTER UPDATE ON processing_requests DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION refuse()`.execute(db)
  t.equal((await a.call('staff', 'POST', `/api/v1/admin/jobs/${id}/retry/`)).statusCode, 500)
  t.equal((await a.call('user', 'GET', `/api/v1/text-stats/status/${id}/`)).data.status, 'failed')
  t.same(await auditRows(a.built), [], 'the entry went with its change')
})
