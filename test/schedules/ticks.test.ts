// Ticks: a real cron tick end to end on two instances (exactly one request), missed ticks while
// every instance was down (one catch-up run), stale and replayed ticks, reconciliation.
import t from 'tap'
import type { Test } from 'tap'
import { sql } from 'kysely'
import { buildApp } from '../../server/app.ts'
import { createLogger } from '../../server/logger.ts'
import { openServices } from '../../server/services.ts'
import { handleTick, reconcileSchedules, startScheduler, TICK_QUEUE } from '../../worker/schedules/scheduler.ts'
import { api, build, testConfig, userWithToken, type Built } from '../helper.ts'
import { until } from '../jobs/support.ts'

const URL = '/api/v1/admin/schedules/'
const FAST = { SCHEDULER_INTERVAL_SECONDS: '1' }

async function requestsOf(built: Built, scheduleId: string) {
  return built.services.db.selectFrom('processing_requests').selectAll().where('schedule_id', '=', scheduleId).execute()
}

/** A staff user and a text-stats schedule made through the staff API: `cron` and a name, input `text`. */
async function scheduleThrough(built: Built, name: string, cron: string, text: string) {
  const admin = await userWithToken(built, { isStaff: true })
  const { data: schedule } = await api(built.app, {
    method: 'POST', url: URL, headers: admin.headers, payload: { name, feature: 'text-stats', cron, input: { text } },
  })
  return { admin, schedule }
}

/** Waits until pg-boss's cron monitor has made `passes` more passes on this database (its
 * `version.cron_on` moves at each one): the event after which a double-fired tick would show. */
async function cronPasses(built: Built, passes: number): Promise<void> {
  const cronOn = async () => String((await sql<{ cron_on: Date | null }>`SELECT cron_on FROM pgboss.version`.execute(built.services.db)).rows[0]?.cron_on?.getTime())
  let last = await cronOn()
  for (let seen = 0; seen < passes;) {
    last = await until(cronOn, (v) => v !== last, { timeoutMs: 30_000, intervalMs: 100 })
    seen++
  }
}

/** A second instance on the same database, with its own pg-boss and scheduler. */
async function secondInstance(t: Test, built: Built) {
  const config = testConfig(built.url, FAST)
  const services = await openServices(config, createLogger(config), built.url)
  const app = await buildApp(services)
  const scheduler = await startScheduler(services)
  t.teardown(async () => { await scheduler.stop(); await app.close(); await services.close() })
  return { app, services }
}

t.test('a real tick with two instances running creates exactly one request', async (t) => {
  const built = await build(t, { env: FAST })
  const scheduler = await startScheduler(built.services)
  t.teardown(() => scheduler.stop())
  await secondInstance(t, built)
  const { admin, schedule } = await scheduleThrough(built, 'every minute', '* * * * *', 'tick tock')
  // pg-boss fires an occurrence of the last minute on its next pass, else at the next minute.
  const [first] = await until(() => requestsOf(built, schedule.id), (rows) => rows.length > 0, { timeoutMs: 75_000, intervalMs: 200 })
  t.equal(first!.feature, 'text-stats')
  t.equal(first!.owner_id, admin.user.id)
  // Several more cron passes (of either instance): none may fire the same tick again.
  await cronPasses(built, 4)
  const requests = await requestsOf(built, schedule.id)
  const row = await built.services.db.selectFrom('schedules').selectAll().where('id', '=', schedule.id).executeTakeFirstOrThrow()
  const minutes = new Set(requests.map((r) => Math.floor(r.created_at.getTime() / 60_000)))
  t.equal(requests.length, minutes.size, 'one request per minute that ticked, whatever the number of instances')
  t.equal(row.total_run_count, requests.length, 'the counter matches')
  t.ok(row.last_run_at)
  // Keyed by schedule and minute (pg-boss handed the job's creation time over), not by the job's id.
  t.match(requests[0]!.idempotency_key, new RegExp(`^schedule-tick:${schedule.id}:\\d+$`), 'the tick is keyed by its minute')
})

t.test('ticks missed while every instance was down fire once when Conveyor is back', async (t) => {
  const built = await build(t, { env: FAST })
  // Hourly, at a minute half an hour away: nothing is due now, so only a catch-up can fire.
  const minute = (new Date().getUTCMinutes() + 30) % 60
  const { schedule } = await scheduleThrough(built, 'hourly', `${minute} * * * *`, 'catch up')
  // Stand-in for an outage: pg-boss's last cron pass and the schedule's creation, five hours back
  // (five hourly ticks missed). These are the two times its `missed` policy compares.
  await sql`UPDATE pgboss.version SET cron_on = now() - interval '5 hours'`.execute(built.services.db)
  await sql`UPDATE pgboss.schedule SET created_on = now() - interval '6 hours' WHERE key = ${schedule.id}`.execute(built.services.db)
  const scheduler = await startScheduler(built.services)
  t.teardown(() => scheduler.stop())
  await until(() => requestsOf(built, schedule.id), (rows) => rows.length > 0, { timeoutMs: 30_000, intervalMs: 200 })
  // A catch-up of each missed tick would come in the next passes: let three go by.
  await cronPasses(built, 3)
  t.equal((await requestsOf(built, schedule.id)).length, 1, 'five missed ticks: one run, not five, not none')
})

t.test('one occurrence forwarded twice (two jobs, one second apart) creates one request; the next minute\'s creates its own', async (t) => {
  const built = await build(t)
  const { schedule } = await scheduleThrough(built, 'twice', '* * * * *', 'once a minute')
  const { db, boss, log } = built.services
  const tick = (id: string, createdOn: Date) => ({ id, name: TICK_QUEUE, data: { scheduleId: schedule.id }, createdOn }) as any
  const minute = Math.floor(Date.now() / 60_000) * 60_000
  t.ok(await handleTick(db, boss, log, tick('44444444-4444-4444-8444-444444444444', new Date(minute + 290))), 'the first job of the occurrence creates the request')
  t.equal(await handleTick(db, boss, log, tick('55555555-5555-4555-8555-555555555555', new Date(minute + 1_300))), null, 'a second job for it, a second later, creates nothing')
  t.ok(await handleTick(db, boss, log, tick('66666666-6666-4666-8666-666666666666', new Date(minute + 60_100))), 'the next minute\'s tick is a run of its own')
  t.equal((await requestsOf(built, schedule.id)).length, 2)
  const row = await db.selectFrom('schedules').select('total_run_count').where('id', '=', schedule.id).executeTakeFirstOrThrow()
  t.equal(row.total_run_count, 2, 'the counter counts runs, not jobs')
})

t.test('a tick for a disabled or deleted schedule creates nothing; a replayed tick creates nothing twice', async (t) => {
  const built = await build(t)
  const { admin, schedule } = await scheduleThrough(built, 'replay', '0 0 * * *', 'once')
  const { db, boss, log } = built.services
  const job = { id: '11111111-1111-4111-8111-111111111111', name: TICK_QUEUE, data: { scheduleId: schedule.id } } as any
  t.ok(await handleTick(db, boss, log, job), 'first delivery creates a request')
  t.equal(await handleTick(db, boss, log, job), null, 'the same tick delivered again creates nothing')
  t.equal((await requestsOf(built, schedule.id)).length, 1)
  await api(built.app, { method: 'PATCH', url: `${URL}${schedule.id}/`, headers: admin.headers, payload: { enabled: false } })
  t.equal(await handleTick(db, boss, log, { ...job, id: '22222222-2222-4222-8222-222222222222' }), null, 'disabled: nothing')
  await built.app.inject({ method: 'DELETE', url: `${URL}${schedule.id}/`, headers: admin.headers })
  t.equal(await handleTick(db, boss, log, { ...job, id: '33333333-3333-4333-8333-333333333333' }), null, 'deleted: nothing')
  const kept = await db.selectFrom('processing_requests').select('schedule_id').execute()
  t.same(kept, [{ schedule_id: null }], 'past requests of a deleted schedule are kept, unlinked')
})

t.test('reconciliation adds schedules missing from pg-boss and removes strays', async (t) => {
  const built = await build(t)
  const { schedule } = await scheduleThrough(built, 'drift', '5 4 * * *', 'x')
  const { db, boss, log } = built.services
  await boss.unschedule(TICK_QUEUE, schedule.id)
  await boss.schedule(TICK_QUEUE, '* * * * *', { scheduleId: 'gone' }, { key: '99999999-9999-4999-8999-999999999999' })
  t.same(await reconcileSchedules(db, boss, log), { added: 1, removed: 1 })
  const left = await boss.getSchedules(TICK_QUEUE)
  t.same(left.map((s) => [s.key, s.cron]), [[schedule.id, '5 4 * * *']])
  t.same(await reconcileSchedules(db, boss, log), { added: 0, removed: 0 }, 'idempotent')
})
