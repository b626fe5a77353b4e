// The built-in maintenance schedules: created at setup, editable, and their runs are ordinary
// requests (run by the engine, visible to staff in the job list).
import { mkdir, utimes, writeFile } from 'node:fs/promises'
import { randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { sql } from 'kysely'
import { runSetup } from '../../seeds/index.ts'
import { SYSTEM_EMAIL } from '../../seeds/010_maintenance_schedules.ts'
import { reconcileSchedules, TICK_QUEUE } from '../../worker/schedules/scheduler.ts'
import { createSession } from '../../server/accounts/sessions.ts'
import { findUserByEmail } from '../../server/accounts/users.ts'
import { api, userWithToken } from '../helper.ts'
import { buildJobs, settled, until } from '../jobs/support.ts'

const quiet = { info() {} }

t.test('setup creates both maintenance schedules, owned by an inactive system account, mirrored at start', async (t) => {
  const built = await buildJobs(t, { env: { RETENTION_DAYS: '45' } })
  const { db, boss, log } = built.services
  await runSetup(db, { config: built.config, log: quiet })
  const rows = await db.selectFrom('schedules').selectAll().orderBy('name').execute()
  t.same(rows.map((r) => [r.name, r.feature, r.cron, r.enabled]), [
    ['maintenance: clear expired sessions', 'clear-expired-sessions', '17 * * * *', true],
    ['maintenance: purge old requests', 'purge-old-requests', '43 3 * * *', true],
  ])
  t.same(rows[1]!.input, { older_than_days: 45 }, 'the retention comes from RETENTION_DAYS')
  const system = await findUserByEmail(db, SYSTEM_EMAIL)
  t.equal(system?.is_active, false, 'the owner cannot sign in')
  t.ok(rows.every((r) => r.owner_id === system!.id))
  await reconcileSchedules(db, boss, log)
  t.equal((await boss.getSchedules(TICK_QUEUE)).length, 2)
})

t.test('staff can edit them like any schedule; other users cannot run maintenance', async (t) => {
  const built = await buildJobs(t)
  await runSetup(built.services.db, { config: built.config, log: quiet })
  const admin = await userWithToken(built, { isStaff: true })
  const list = await api(built.app, { method: 'GET', url: '/api/v1/admin/schedules/?search=purge', headers: admin.headers })
  const purge = list.data.results[0]
  const edited = await api(built.app, { method: 'PATCH', url: `/api/v1/admin/schedules/${purge.id}/`, headers: admin.headers, payload: { input: { older_than_days: 7 }, cron: '0 4 * * *' } })
  t.equal(edited.statusCode, 200)
  t.same(edited.data.input, { older_than_days: 7 })
  const bad = await api(built.app, { method: 'PATCH', url: `/api/v1/admin/schedules/${purge.id}/`, headers: admin.headers, payload: { input: { older_than_days: 0 } } })
  t.same(bad.data, { input: { older_than_days: ['Ensure this value is greater than or equal to 1.'] } })
  const user = await userWithToken(built)
  const features = await api(built.app, { method: 'GET', url: '/api/v1/features/', headers: user.headers })
  t.notOk(features.data.some((f: any) => f.name === 'purge-old-requests'), 'hidden from non-staff')
  const create = await api(built.app, { method: 'POST', url: '/api/v1/purge-old-requests/create/', headers: user.headers, payload: {} })
  t.equal(create.statusCode, 404, 'a non-staff create is "not found"')
  const staffFeatures = await api(built.app, { method: 'GET', url: '/api/v1/features/', headers: admin.headers })
  t.ok(staffFeatures.data.some((f: any) => f.name === 'purge-old-requests'), 'listed for staff')
})

t.test('clearing sessions runs through the engine: expired sessions go, live ones stay, staff see the run', async (t) => {
  const built = await buildJobs(t, { engine: true })
  const { db } = built.services
  await runSetup(db, { config: built.config, log: quiet })
  const admin = await userWithToken(built, { isStaff: true })
  const expired = await createSession(db, admin.user.id, 60)
  await db.updateTable('sessions').set({ expires_at: new Date(Date.now() - 1000) }).where('id', '=', expired.id).execute()
  const { data: list } = await api(built.app, { method: 'GET', url: '/api/v1/admin/schedules/?search=sessions', headers: admin.headers })
  const run = await api(built.app, { method: 'POST', url: `/api/v1/admin/schedules/${list.results[0].id}/run-now/`, headers: admin.headers })
  t.equal(run.statusCode, 202)
  const done = await settled(built.app, () => api(built.app, { method: 'GET', url: `/api/v1/admin/jobs/${run.data.id}/`, headers: admin.headers }), run.data.id, (r) => r.data.status === 'completed' || r.data.status === 'failed')
  t.equal(done.data.status, 'completed', done.data.error_message ?? '')
  t.equal(done.data.user.pk, (await findUserByEmail(db, SYSTEM_EMAIL))!.id)
  t.notOk(await db.selectFrom('sessions').select('id').where('id', '=', expired.id).executeTakeFirst(), 'expired session deleted')
  t.equal((await api(built.app, { method: 'GET', url: '/api/v1/auth/user/', headers: admin.headers })).statusCode, 200, 'the live session still works')
  const jobs = await api(built.app, { method: 'GET', url: '/api/v1/admin/jobs/?feature=clear-expired-sessions', headers: admin.headers })
  t.equal(jobs.data.count, 1, 'observable in the staff job list')
  const user = await userWithToken(built)
  t.equal((await api(built.app, { method: 'GET', url: '/api/v1/admin/jobs/', headers: user.headers })).statusCode, 403)
})

t.test('purging deletes finished requests past the retention with their files, and keeps the rest', async (t) => {
  const built = await buildJobs(t, { engine: true })
  const { db } = built.services
  const admin = await userWithToken(built, { isStaff: true })
  const owner = await userWithToken(built)
  const insert = async (status: string, daysAgo: number) => {
    const at = new Date(Date.now() - daysAgo * 86_400_000)
    const row = await db.insertInto('processing_requests').values({
      owner_id: owner.user.id, feature: 'text-stats', input: '{"text":"x"}', status: status as any,
      created_at: at, finished_at: status === 'pending' ? null : at,
    }).returning('id').executeTakeFirstOrThrow()
    await mkdir(path.join(built.media, row.id, 'output'), { recursive: true })
    await writeFile(path.join(built.media, row.id, 'output', 'report.csv'), 'a,b\n')
    return row.id
  }
  const old = [await insert('completed', 40), await insert('failed', 35), await insert('cancelled', 31)]
  const keep = [await insert('completed', 5), await insert('pending', 90)]
  const run = await api(built.app, { method: 'POST', url: '/api/v1/purge-old-requests/create/', headers: admin.headers, payload: { older_than_days: 30 } })
  t.equal(run.statusCode, 202)
  const done = await settled(built.app, () => api(built.app, { method: 'GET', url: `/api/v1/purge-old-requests/status/${run.data.id}/`, headers: admin.headers }), run.data.id, (r) => ['completed', 'failed'].includes(r.data.status))
  t.equal(done.data.status, 'completed', done.data.error_message ?? '')
  const results = await api(built.app, { method: 'GET', url: `/api/v1/purge-old-requests/results/${run.data.id}/`, headers: admin.headers })
  t.equal(results.data.data.deleted_requests, 3)
  const left = (await db.selectFrom('processing_requests').select('id').where('owner_id', '=', owner.user.id).execute()).map((r) => r.id).sort()
  t.same(left, [...keep].sort(), 'only requests finished before the cutoff are gone (an unfinished one is never purged)')
  t.ok(old.every((id) => !existsSync(path.join(built.media, id))), 'their files are gone')
  t.ok(keep.every((id) => existsSync(path.join(built.media, id))), 'the others keep theirs')
  const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM processing_results`.execute(db)
  t.ok(rows[0]!.n >= 1, 'the purge stored its own result')
})

t.test('purging removes upload folders no request owns once they are quiet, and nothing else', async (t) => {
  const built = await buildJobs(t, { engine: true })
  const { db } = built.services
  const admin = await userWithToken(built, { isStaff: true })
  const twoHoursAgo = new Date(Date.now() - 2 * 3600_000)
  const folder = async (name: string, old: boolean) => {
    const dir = path.join(built.media, name)
    await mkdir(path.join(dir, 'input'), { recursive: true })
    await writeFile(path.join(dir, 'input', 'upload.txt'), 'left behind')
    if (old) for (const p of [path.join(dir, 'input', 'upload.txt'), path.join(dir, 'input'), dir]) await utimes(p, twoHoursAgo, twoHoursAgo)
    return dir
  }
  // A crash between the upload and the insert: a folder named like a request id, with no row.
  const orphan = await folder(randomUUID(), true)
  const streaming = await folder(randomUUID(), false) // an upload still arriving, or a create about to commit
  const owned = await db.insertInto('processing_requests').values({
    owner_id: admin.user.id, feature: 'text-stats', input: '{"text":"x"}', status: 'pending',
  }).returning('id').executeTakeFirstOrThrow()
  const ownedDir = await folder(owned.id, true)
  const other = await folder('not-a-request-folder', true)
  const run = await api(built.app, { method: 'POST', url: '/api/v1/purge-old-requests/create/', headers: admin.headers, payload: { older_than_days: 30 } })
  const done = await settled(built.app, () => api(built.app, { method: 'GET', url: `/api/v1/purge-old-requests/status/${run.data.id}/`, headers: admin.headers }), run.data.id, (r) => ['completed', 'failed'].includes(r.data.status))
  t.equal(done.data.status, 'completed', done.data.error_message ?? '')
  const results = await api(built.app, { method: 'GET', url: `/api/v1/purge-old-requests/results/${run.data.id}/`, headers: admin.headers })
  t.equal(results.data.data.deleted_orphan_folders, 1)
  t.notOk(existsSync(orphan), 'the quiet orphan is gone')
  t.ok(existsSync(streaming), 'a folder changed within the hour stays')
  t.ok(existsSync(ownedDir), "a request's folder stays")
  t.ok(existsSync(other), 'a folder not named like a request stays')
})
