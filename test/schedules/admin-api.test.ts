// The staff API for schedules: CRUD, validation naming the field, permissions, run-now, and the
// pg-boss mirror written with every change.
import t from 'tap'
import type { Test } from 'tap'
import { TICK_QUEUE } from '../../worker/schedules/scheduler.ts'
import { api, build, userWithToken, type Built } from '../helper.ts'

const URL = '/api/v1/admin/schedules/'

async function staff(t: Test) {
  const built = await build(t)
  const admin = await userWithToken(built, { isStaff: true })
  return { built, admin, headers: admin.headers }
}

const valid = { name: 'nightly stats', feature: 'text-stats', cron: '30 2 * * *', timezone: 'Europe/Berlin', input: { text: 'hello world' } }

async function mirrored(built: Built, id: string) {
  return built.services.boss.getSchedule(TICK_QUEUE, id)
}

t.test('staff create a schedule: 201 with next_run_at, and pg-boss has it under the schedule id', async (t) => {
  const { built, headers, admin } = await staff(t)
  const res = await api(built.app, { method: 'POST', url: URL, headers, payload: { ...valid, description: 'every night' } })
  t.equal(res.statusCode, 201)
  t.match(res.data, {
    id: /^[0-9a-f-]{36}$/, name: 'nightly stats', feature: 'text-stats', cron: '30 2 * * *', timezone: 'Europe/Berlin',
    input: { text: 'hello world' }, enabled: true, description: 'every night', owner: admin.user.id,
    last_run_at: null, total_run_count: 0,
  })
  const next = new Date(res.data.next_run_at)
  t.ok(next.getTime() > Date.now() && next.getTime() <= Date.now() + 25 * 3600_000, 'next run within a day')
  t.equal(new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', hour: '2-digit', minute: '2-digit' }).format(next), '02:30', 'evaluated in its time zone')
  const boss = await mirrored(built, res.data.id)
  t.match(boss, { cron: '30 2 * * *', timezone: 'Europe/Berlin', data: { scheduleId: res.data.id } })
})

t.test('list, read, filter and search; a page past the end is "Invalid page."', async (t) => {
  const { built, headers } = await staff(t)
  for (const [name, enabled] of [['alpha', true], ['beta', false], ['gamma', true]] as const) {
    await api(built.app, { method: 'POST', url: URL, headers, payload: { ...valid, name, enabled, description: `the ${name} one` } })
  }
  const list = await api(built.app, { method: 'GET', url: `${URL}?page_size=2`, headers })
  t.equal(list.statusCode, 200)
  t.equal(list.data.count, 3)
  t.same(list.data.results.map((s: any) => s.name), ['alpha', 'beta'])
  t.match(list.data.next, /page=2/)
  t.equal(list.data.previous, null)
  const disabled = await api(built.app, { method: 'GET', url: `${URL}?enabled=false`, headers })
  t.same(disabled.data.results.map((s: any) => s.name), ['beta'])
  t.equal(disabled.data.results[0].next_run_at, null, 'a disabled schedule has no next run')
  const search = await api(built.app, { method: 'GET', url: `${URL}?search=GAMMA`, headers })
  t.same(search.data.results.map((s: any) => s.name), ['gamma'])
  const past = await api(built.app, { method: 'GET', url: `${URL}?page=9`, headers })
  t.equal(past.statusCode, 404)
  t.same(past.data, { detail: 'Invalid page.' })
  const one = await api(built.app, { method: 'GET', url: `${URL}${list.data.results[0].id}`, headers })
  t.equal(one.data.name, 'alpha')
  t.equal((await api(built.app, { method: 'GET', url: `${URL}00000000-0000-4000-8000-000000000000/`, headers })).statusCode, 404)
  t.equal((await api(built.app, { method: 'GET', url: `${URL}not-a-uuid/`, headers })).statusCode, 404)
})

t.test('invalid cron, time zone, input, feature or owner: 400 naming each field at once', async (t) => {
  const { built, headers } = await staff(t)
  const bad = await api(built.app, {
    method: 'POST', url: URL, headers,
    payload: { name: 'bad', feature: 'text-stats', cron: '61 * * * *', timezone: 'Mars/Olympus', input: { text: 123 }, owner: 999999 },
  })
  t.equal(bad.statusCode, 400)
  t.match(bad.data, {
    cron: [/^Invalid cron expression/],
    timezone: ['"Mars/Olympus" is not a valid IANA time zone.'],
    input: { text: ['Not a valid string.'] },
    owner: ['Invalid pk "999999" - object does not exist.'],
  })
  const fields = await api(built.app, { method: 'POST', url: URL, headers, payload: { ...valid, cron: '* * * *' } })
  t.same(fields.data, { cron: ['Enter a cron expression of five fields: minute hour day-of-month month day-of-week.'] })
  const seconds = await api(built.app, { method: 'POST', url: URL, headers, payload: { ...valid, cron: '*/5 * * * * *' } })
  t.equal(seconds.statusCode, 400, 'six fields (seconds) are refused: pg-boss fires at most once a minute')
  const feature = await api(built.app, { method: 'POST', url: URL, headers, payload: { ...valid, feature: 'nope' } })
  t.same(feature.data, { feature: ['"nope" is not a valid choice.'] })
  const upload = await api(built.app, { method: 'POST', url: URL, headers, payload: { ...valid, feature: 'csv-profile', input: {} } })
  t.match(upload.data, { feature: [/needs an uploaded file/] })
  const missing = await api(built.app, { method: 'POST', url: URL, headers, payload: {} })
  t.same(Object.keys(missing.data).sort(), ['cron', 'feature', 'name'])
  await api(built.app, { method: 'POST', url: URL, headers, payload: valid })
  const duplicate = await api(built.app, { method: 'POST', url: URL, headers, payload: valid })
  t.same(duplicate.data, { name: ['schedule with this name already exists.'] })
  const { count } = await built.services.db.selectFrom('schedules').select((eb) => eb.fn.countAll<number>().as('count')).executeTakeFirstOrThrow()
  t.equal(count, 1, 'nothing saved by the bad requests')
})

t.test('editing the cron updates pg-boss in the same step; disabling and deleting remove it', async (t) => {
  const { built, headers } = await staff(t)
  const { data: created } = await api(built.app, { method: 'POST', url: URL, headers, payload: valid })
  const patched = await api(built.app, { method: 'PATCH', url: `${URL}${created.id}/`, headers, payload: { cron: '*/10 * * * *', timezone: 'UTC' } })
  t.equal(patched.statusCode, 200)
  t.equal(patched.data.cron, '*/10 * * * *')
  t.equal(patched.data.input.text, 'hello world', 'PATCH keeps what it was not given')
  t.match(await mirrored(built, created.id), { cron: '*/10 * * * *', timezone: 'UTC' })
  const badPatch = await api(built.app, { method: 'PATCH', url: `${URL}${created.id}/`, headers, payload: { cron: 'every day' } })
  t.equal(badPatch.statusCode, 400)
  t.match(await mirrored(built, created.id), { cron: '*/10 * * * *' }, 'a rejected edit changes nothing')
  const off = await api(built.app, { method: 'PATCH', url: `${URL}${created.id}/`, headers, payload: { enabled: false } })
  t.equal(off.data.enabled, false)
  t.equal(await mirrored(built, created.id), null, 'disabled: no pg-boss schedule')
  const put = await api(built.app, { method: 'PUT', url: `${URL}${created.id}/`, headers, payload: { name: 'renamed', feature: 'text-stats', cron: '0 * * * *', input: { text: 'x' } } })
  t.match(put.data, { name: 'renamed', enabled: true, timezone: 'UTC', description: '' }, 'PUT resets what it was not given')
  t.ok(await mirrored(built, created.id), 're-enabled: back in pg-boss')
  const del = await built.app.inject({ method: 'DELETE', url: `${URL}${created.id}/`, headers })
  t.equal(del.statusCode, 204)
  t.equal(await mirrored(built, created.id), null)
  t.equal((await built.app.inject({ method: 'DELETE', url: `${URL}${created.id}/`, headers })).statusCode, 404)
})

t.test('only staff: anonymous 401, other users 403', async (t) => {
  const built = await build(t)
  const user = await userWithToken(built)
  t.equal((await api(built.app, { method: 'GET', url: URL })).statusCode, 401)
  const forbidden = await api(built.app, { method: 'POST', url: URL, headers: user.headers, payload: valid })
  t.equal(forbidden.statusCode, 403)
  t.same(forbidden.data, { detail: 'You do not have permission to perform this action.' })
})

t.test('run-now creates a request as create/ does, marked with the schedule, and counts the run', async (t) => {
  const { built, headers, admin } = await staff(t)
  const { data: created } = await api(built.app, { method: 'POST', url: URL, headers, payload: { ...valid, enabled: false } })
  const run = await api(built.app, { method: 'POST', url: `${URL}${created.id}/run-now/`, headers })
  t.equal(run.statusCode, 202)
  t.match(run.data, { id: /^[0-9a-f-]{36}$/, feature: 'text-stats', status: 'pending', schedule_id: created.id })
  const row = await built.services.db.selectFrom('processing_requests').selectAll().where('id', '=', run.data.id).executeTakeFirstOrThrow()
  t.equal(row.owner_id, admin.user.id)
  t.match(row.input, { text: 'hello world' })
  t.same(row.input, run.data.id && (await api(built.app, { method: 'GET', url: `${URL}${created.id}/`, headers })).data.input, 'the schedule shows the input its runs receive')
  const after = await api(built.app, { method: 'GET', url: `${URL}${created.id}/`, headers })
  t.equal(after.data.total_run_count, 1)
  t.ok(after.data.last_run_at)
  const status = await api(built.app, { method: 'GET', url: `/api/v1/text-stats/status/${run.data.id}/`, headers })
  t.equal(status.data.schedule_id, created.id, 'the owner sees it like any request')
})
