// The staff API for every user's requests: filters, search and ordering; the detail with its pg-boss
// job and results; retry, cancel, delete; bulk actions where each id succeeds or fails on its own.
import { access, mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import t from 'tap'
import { queueName, startEngine } from '../../worker/index.ts'
import { engineDeps } from '../../server/start.ts'
import { userWithToken } from '../helper.ts'
import { settled, until } from '../jobs/support.ts'
import { adminApp, auditRows } from './support.ts'

const JOBS = '/api/v1/admin/jobs/'
const exists = (p: string) => access(p).then(() => true, () => false)
type App = Awaited<ReturnType<typeof adminApp>>

async function create(a: App, headers: Record<string, string>, feature = 'text-stats', input: unknown = { text: 'a few words' }) {
  const res = await a.call(headers, 'POST', `/api/v1/${feature}/create/`, input)
  if (res.statusCode !== 202) throw new Error(`create failed: ${res.body}`)
  return res.data.id as string
}
const setRow = (a: App, id: string, values: Record<string, unknown>) =>
  a.built.services.db.updateTable('processing_requests').set(values as never).where('id', '=', id).execute()
const jobOf = async (a: App, id: string) => {
  const row = await a.built.services.db.selectFrom('processing_requests').select(['job_id', 'feature']).where('id', '=', id).executeTakeFirstOrThrow()
  return { jobId: row.job_id!, job: await a.built.services.boss.getJobById(queueName(row.feature), row.job_id!) }
}

t.test('the list: every user\'s requests with their owner and input, filtered by feature, status, user and creation time', async (t) => {
  const a = await adminApp(t)
  const other = await userWithToken(a.built, { email: 'someone.else@example.org' })
  const r1 = await create(a, a.user.headers)
  const r2 = await create(a, a.user.headers, 'test-behave', { sleep_ms: 1 })
  const r3 = await create(a, other.headers)
  await setRow(a, r1, { created_at: new Date('2026-01-01T00:00:00Z'), status: 'failed' })
  await setRow(a, r2, { created_at: new Date('2026-01-02T00:00:00Z') })
  await setRow(a, r3, { created_at: new Date('2026-01-03T00:00:00Z') })

  const all = await a.call('staff', 'GET', JOBS)
  t.equal(all.statusCode, 200)
  t.same(all.data.results.map((j: any) => j.id), [r3, r2, r1], 'newest first')
  t.match(all.data.results[0], { feature: 'text-stats', status: 'pending', user: { pk: other.user.id, email: 'someone.else@example.org' }, input: { text: 'a few words' } })
  t.same(Object.keys(all.data.results[0]).sort(),
    ['attempts', 'created_at', 'error_message', 'feature', 'finished_at', 'id', 'input', 'progress', 'schedule_id', 'started_at', 'status', 'user'])
  const ids = async (query: string) => (await a.call('staff', 'GET', `${JOBS}?${query}`)).data.results.map((j: any) => j.id)
  t.same(await ids('feature=test-behave'), [r2])
  t.same(await ids('status=failed'), [r1])
  t.same(await ids(`user=${other.user.id}`), [r3])
  t.same(await ids('created_after=2026-01-02T00:00:00Z'), [r3, r2], 'created_after is inclusive')
  t.same(await ids('created_before=2026-01-02T00:00:00Z'), [r1], 'created_before is exclusive')
  t.same(await ids('created_after=2026-01-01T12:00:00%2B00:00&created_before=2026-01-02T12:00:00Z'), [r2])
  const bad = await a.call('staff', 'GET', `${JOBS}?created_after=yesterday&created_before=2026-13-01T00:00:00Z`)
  t.equal(bad.statusCode, 400)
  t.same(bad.data, { created_after: ['Datetime has wrong format.'], created_before: ['Datetime has wrong format.'] }, 'each bad time named')
  t.same((await a.call('staff', 'GET', `${JOBS}?status=done`)).data, { status: ['"done" is not a valid choice.'] })
  t.equal((await a.call('staff', 'GET', `${JOBS}?page_size=2`)).data.next?.includes('page=2'), true, 'paginated')
})

t.test("search: the start of the id, or part of the owner's e-mail in any case", async (t) => {
  const a = await adminApp(t)
  const other = await userWithToken(a.built, { email: 'Findable.Person@example.org' })
  const mine = await create(a, a.user.headers)
  const theirs = await create(a, other.headers)
  const ids = async (search: string) => (await a.call('staff', 'GET', `${JOBS}?search=${encodeURIComponent(search)}`)).data.results.map((j: any) => j.id)
  t.same(await ids('findable.PERSON'), [theirs])
  t.same(await ids('example.org'), [theirs])
  t.same(await ids(mine.slice(0, 8)), [mine], 'an id prefix')
  t.same(await ids(mine.slice(0, 8).toUpperCase()), [mine], 'in any case')
  t.same(await ids(mine), [mine], 'a whole id')
  t.same(await ids('%'), [], 'a % is literal')
  t.same(await ids('nobody@nowhere'), [])
})

t.test('ordering: created_at either way (default newest first), and by feature, status, started_at, finished_at', async (t) => {
  const a = await adminApp(t)
  const r1 = await create(a, a.user.headers, 'test-behave', { sleep_ms: 1 })
  const r2 = await create(a, a.user.headers)
  const r3 = await create(a, a.user.headers, 'test-behave', { sleep_ms: 1 })
  await setRow(a, r1, { created_at: new Date('2026-01-01T00:00:00Z'), status: 'completed', finished_at: new Date('2026-01-05T00:00:00Z') })
  await setRow(a, r2, { created_at: new Date('2026-01-02T00:00:00Z'), status: 'failed', finished_at: new Date('2026-01-04T00:00:00Z') })
  await setRow(a, r3, { created_at: new Date('2026-01-03T00:00:00Z') })
  const ids = async (ordering?: string) => (await a.call('staff', 'GET', ordering ? `${JOBS}?ordering=${ordering}` : JOBS)).data.results.map((j: any) => j.id)
  t.same(await ids(), [r3, r2, r1])
  t.same(await ids('-created_at'), [r3, r2, r1])
  t.same(await ids('created_at'), [r1, r2, r3])
  t.same(await ids('finished_at'), [r2, r1, r3], 'unfinished last')
  t.same(await ids('-finished_at'), [r3, r1, r2], 'unfinished first when descending')
  t.same(await ids('status'), [r1, r2, r3], 'completed, failed, pending')
  t.same((await ids('feature')).at(-1), r2, 'test-behave before text-stats')
  t.same((await ids('-feature'))[0], r2, 'text-stats first when descending')
  await setRow(a, r3, { started_at: new Date('2026-01-06T00:00:00Z') })
  await setRow(a, r2, { started_at: new Date('2026-01-07T00:00:00Z') })
  t.same(await ids('started_at'), [r3, r2, r1], 'by start time, never started last')
  const bad = await a.call('staff', 'GET', `${JOBS}?ordering=input`)
  t.equal(bad.statusCode, 400)
  t.ok(bad.data.ordering)
})

t.test('the detail adds the pg-boss job and, once completed, the results', async (t) => {
  const a = await adminApp(t, { engine: true })
  const id = await create(a, a.user.headers, 'test-behave', { output: 'file body' })
  const done = await settled(a.built.app, () => a.call('staff', 'GET', `${JOBS}${id}/`), id, (r) => r.data.status === 'completed')
  const { jobId } = await jobOf(a, id)
  t.match(done.data, {
    id, status: 'completed', user: { pk: a.user.user.id, email: a.user.user.email }, input: { output: 'file body' },
    queue: { job_id: jobId, state: 'completed', retry_count: 0, retry_limit: 0, created_on: String, started_on: String, completed_on: String },
    results: { data: { ok: true, attempt: 1 }, files: [{ name: 'out.txt', size: 9, content_type: String }] },
  })
  t.same(Object.keys(done.data.queue).sort(), ['completed_on', 'created_on', 'job_id', 'output', 'retry_count', 'retry_limit', 'started_on', 'state'])
  const waiting = await create(a, a.user.headers, 'test-behave', { sleep_ms: 60_000 })
  const running = await settled(a.built.app, () => a.call('staff', 'GET', `${JOBS}${waiting}/`), waiting, (r) => r.data.status === 'processing')
  t.match(running.data, { queue: { state: 'active', completed_on: null }, results: null })
  t.equal((await a.call('staff', 'POST', `${JOBS}${waiting}/cancel/`)).statusCode, 200, 'a running request is cancelled')
  await settled(a.built.app, () => a.call('staff', 'GET', `${JOBS}${waiting}/`), waiting, (r) => r.data.queue?.state === 'cancelled')
  t.equal((await a.call('staff', 'GET', `${JOBS}00000000-0000-4000-8000-000000000000/`)).statusCode, 404)
  t.equal((await a.call('staff', 'GET', `${JOBS}not-a-uuid/`)).statusCode, 404)
})

t.test('retry: a failed request gets a new attempt (202, pending, a new pg-boss job) that runs', async (t) => {
  const a = await adminApp(t, { engine: true })
  const id = await create(a, a.user.headers, 'test-behave', { fail_in: 'process', permanent: true })
  const failed = await settled(a.built.app, () => a.call('staff', 'GET', `${JOBS}${id}/`), id, (r) => r.data.status === 'failed')
  t.equal(failed.data.attempts, 1)
  const before = await jobOf(a, id)
  const res = await a.call('staff', 'POST', `${JOBS}${id}/retry/`)
  t.equal(res.statusCode, 202)
  t.match(res.data, { id, status: 'pending', progress: 0, error_message: null, finished_at: null })
  const after = await jobOf(a, id)
  t.not(after.jobId, before.jobId, 'a new job: one job per attempt')
  t.ok(after.job, 'sent to pg-boss')
  const again = await settled(a.built.app, () => a.call('staff', 'GET', `${JOBS}${id}/`), id, (r) => r.data.status === 'failed' && r.data.attempts === 2)
  t.equal(again.data.queue.job_id, after.jobId, 'the engine ran the new attempt')
  const [entry] = await auditRows(a.built)
  t.match(entry, { action: 'retry', object_type: 'job', object_id: id, actor_id: a.staff.user.id, changes: { status: 'pending' } })
})

t.test('retry: a cancelled request runs again to completion; unfinished or completed ones are 409, unknown 404', async (t) => {
  const a = await adminApp(t)
  const id = await create(a, a.user.headers)
  t.equal((await a.call('user', 'POST', `/api/v1/text-stats/cancel/${id}/`)).statusCode, 200)
  t.equal((await a.call('superuser', 'POST', `${JOBS}${id}/retry/`)).statusCode, 202)
  const pendingRetry = await a.call('staff', 'POST', `${JOBS}${id}/retry/`)
  t.equal(pendingRetry.statusCode, 409, 'a pending request is not retried')
  t.same(pendingRetry.data, { detail: 'Only a failed or cancelled request can be retried; this one is pending.', status: 'pending' })
  const engine = await startEngine(engineDeps(a.built.services))
  t.teardown(() => engine.stop())
  await settled(a.built.app, () => a.call('staff', 'GET', `${JOBS}${id}/`), id, (r) => r.data.status === 'completed')
  const done = await a.call('staff', 'POST', `${JOBS}${id}/retry/`)
  t.equal(done.statusCode, 409)
  t.equal(done.data.status, 'completed')
  t.equal((await a.call('staff', 'POST', `${JOBS}00000000-0000-4000-8000-000000000000/retry/`)).statusCode, 404)
  t.equal((await auditRows(a.built)).filter((e) => e.action === 'retry').length, 1, 'only the retry that happened is recorded')
})

t.test("retry refuses a request whose uploaded file is gone (a cancel removes the request's files)", async (t) => {
  const a = await adminApp(t)
  const id = await create(a, a.user.headers)
  await setRow(a, id, { status: 'failed', upload: JSON.stringify({ name: 'notes.txt', size: 3, content_type: 'text/plain' }) })
  const gone = await a.call('staff', 'POST', `${JOBS}${id}/retry/`)
  t.equal(gone.statusCode, 409)
  t.same(gone.data, { detail: 'The uploaded file of this request no longer exists.', status: 'failed' })
  await mkdir(path.join(a.built.media, id, 'input'), { recursive: true })
  await writeFile(path.join(a.built.media, id, 'input', 'notes.txt'), 'abc')
  t.equal((await a.call('staff', 'POST', `${JOBS}${id}/retry/`)).statusCode, 202, 'with the file back, it is retried')
})

t.test('cancel: as the owner\'s cancel — pending becomes cancelled with its job, files removed; finished is 409', async (t) => {
  const a = await adminApp(t)
  const id = await create(a, a.user.headers)
  await mkdir(path.join(a.built.media, id, 'input'), { recursive: true })
  const res = await a.call('staff', 'POST', `${JOBS}${id}/cancel/`)
  t.equal(res.statusCode, 200)
  t.match(res.data, { id, status: 'cancelled', finished_at: String })
  t.equal((await jobOf(a, id)).job?.state, 'cancelled', 'its pg-boss job is cancelled too')
  t.notOk(await exists(path.join(a.built.media, id)), 'its files are removed')
  const again = await a.call('staff', 'POST', `${JOBS}${id}/cancel/`)
  t.equal(again.statusCode, 409)
  t.same(again.data, { detail: 'The request is already cancelled.', status: 'cancelled' })
  t.equal((await a.call('user', 'GET', `/api/v1/text-stats/status/${id}/`)).data.status, 'cancelled', 'the owner sees it')
  const entries = await auditRows(a.built)
  t.equal(entries.length, 1)
  t.match(entries[0], { action: 'cancel', object_id: id, changes: { status: 'cancelled' } })
})

t.test('delete: 204, the request, its results and files are gone', async (t) => {
  const a = await adminApp(t)
  const id = await create(a, a.user.headers)
  await setRow(a, id, { status: 'completed' })
  await a.built.services.db.insertInto('processing_results').values({ request_id: id, data: '{"x":1}' }).execute()
  await mkdir(path.join(a.built.media, id, 'output'), { recursive: true })
  await writeFile(path.join(a.built.media, id, 'output', 'report.csv'), 'a,b')
  t.equal((await a.call('staff', 'DELETE', `${JOBS}${id}/`)).statusCode, 204)
  t.equal((await a.call('staff', 'GET', `${JOBS}${id}/`)).statusCode, 404)
  t.equal((await a.call('user', 'GET', `/api/v1/text-stats/status/${id}/`)).statusCode, 404)
  t.notOk(await a.built.services.db.selectFrom('processing_results').select('request_id').where('request_id', '=', id).executeTakeFirst())
  t.notOk(await exists(path.join(a.built.media, id)), 'MEDIA_ROOT/<id> is gone')
  t.equal((await a.call('staff', 'DELETE', `${JOBS}${id}/`)).statusCode, 404)
  const [entry] = await auditRows(a.built)
  t.match(entry, { action: 'delete', object_type: 'job', object_id: id, changes: { feature: 'text-stats', user: a.user.user.id, status: 'completed' } })
})

t.test('bulk: good, unknown, malformed, foreign-owned and already-finished ids each get their own answer', async (t) => {
  const a = await adminApp(t)
  const other = await userWithToken(a.built)
  const mine = await create(a, a.user.headers)
  const foreign = await create(a, other.headers) // another user's: staff act on every user's requests
  const finished = await create(a, a.user.headers)
  await setRow(a, finished, { status: 'completed' })
  const unknown = '00000000-0000-4000-8000-000000000000'
  const res = await a.call('staff', 'POST', `${JOBS}bulk/`, { action: 'cancel', ids: [mine, unknown, 'not-a-uuid', foreign, finished, mine] })
  t.equal(res.statusCode, 200)
  t.same(res.data, {
    action: 'cancel',
    results: [
      { id: mine, ok: true, status: 'cancelled' },
      { id: unknown, ok: false, detail: 'Not found.' },
      { id: 'not-a-uuid', ok: false, detail: 'Must be a valid UUID.' },
      { id: foreign, ok: true, status: 'cancelled' },
      { id: finished, ok: false, detail: 'The request is already completed.' },
    ],
  }, 'in the order given, a repeated id once')
  const statuses = await a.built.services.db.selectFrom('processing_requests').select(['id', 'status']).execute()
  t.same(Object.fromEntries(statuses.map((r) => [r.id, r.status])), { [mine]: 'cancelled', [foreign]: 'cancelled', [finished]: 'completed' })
  const entries = await auditRows(a.built)
  t.same(entries.map((e) => [e.action, e.object_id, e.changes]).reverse(), [
    ['cancel', mine, { status: 'cancelled', bulk: true }],
    ['cancel', foreign, { status: 'cancelled', bulk: true }],
  ], 'one entry per item that succeeded')

  const retry = await a.call('staff', 'POST', `${JOBS}bulk/`, { action: 'retry', ids: [mine, finished] })
  t.same(retry.data.results, [
    { id: mine, ok: true, status: 'pending' },
    { id: finished, ok: false, detail: 'Only a failed or cancelled request can be retried; this one is completed.' },
  ])
  const del = await a.call('staff', 'POST', `${JOBS}bulk/`, { action: 'delete', ids: [mine, foreign, unknown] })
  t.same(del.data.results, [
    { id: mine, ok: true, status: 'cancelled' },
    { id: foreign, ok: true, status: 'cancelled' },
    { id: unknown, ok: false, detail: 'Not found.' },
  ])
  t.same((await a.built.services.db.selectFrom('processing_requests').select('id').execute()).map((r) => r.id), [finished])
})

t.test('bulk: an empty or oversized list, an unknown action or a non-string id is a 400 that touches nothing', async (t) => {
  const a = await adminApp(t)
  const id = await create(a, a.user.headers)
  const bulk = (body: unknown) => a.call('staff', 'POST', `${JOBS}bulk/`, body)
  t.same((await bulk({ action: 'cancel', ids: [] })).data, { ids: ['Ensure this field has at least 1 elements.'] })
  const many = Array.from({ length: 501 }, () => id)
  const over = await bulk({ action: 'cancel', ids: many })
  t.equal(over.statusCode, 400)
  t.same(over.data, { ids: ['Ensure this field has no more than 500 elements.'] })
  t.equal((await bulk({ action: 'cancel', ids: Array.from({ length: 500 }, () => id) })).statusCode, 200, '500 is allowed')
  await setRow(a, id, { status: 'pending' })
  t.same((await bulk({ action: 'explode', ids: [id] })).data, { action: ['"explode" is not a valid choice.'] })
  t.same((await bulk({ action: 'cancel', ids: [12] })).data, { ids: { 0: ['Not a valid string.'] } })
  t.same((await bulk({})).data, { action: ['This field is required.'], ids: ['This field is required.'] })
  t.equal((await a.call('staff', 'GET', `/api/v1/text-stats/status/${id}/`)).statusCode, 404, 'staff see it only through admin')
  t.equal((await a.call('user', 'GET', `/api/v1/text-stats/status/${id}/`)).data.status, 'pending')
})
