// GET /api/v1/admin/monitoring/: the numbers match a known set of requests in every state, the
// instances list follows the heartbeats, and only staff may look or act.
import t from 'tap'
import { sql } from 'kysely'
import { BOSS_SCHEMA } from '../../worker/index.ts'
import { until } from '../jobs/support.ts'
import { buildMonitoring, startInstance } from './support.ts'

t.test('the numbers match a known set of requests in every state', async (t) => {
  // No engine: the states are set by hand, so nothing moves under the test.
  const m = await buildMonitoring(t, { engine: false })
  const db = m.services.db
  const ids: string[] = []
  for (let i = 0; i < 12; i++) ids.push((await m.asUser('POST', '/api/v1/mon-work/create/', {})).data.id)
  for (let i = 0; i < 2; i++) await m.asUser('POST', '/api/v1/mon-other/create/', {})
  const set = (from: number, to: number, change: Record<string, unknown>) =>
    db.updateTable('processing_requests').set(change as never).where('id', 'in', ids.slice(from, to)).execute()
  // mon-work: 3 queued (0-2), 2 processing, 2 delayed retries, 2 completed now, 1 failed now,
  // 1 completed two hours ago, 1 cancelled.
  await set(3, 5, { status: 'processing', started_at: sql`now()` })
  await sql`UPDATE ${sql.table(`${BOSS_SCHEMA}.job`)} SET start_after = now() + interval '1 hour'
    WHERE id IN (SELECT job_id FROM processing_requests WHERE id IN (${sql.join(ids.slice(5, 7))}))`.execute(db)
  await set(7, 9, { status: 'completed', finished_at: sql`now()` })
  await set(9, 10, { status: 'failed', finished_at: sql`now()` })
  await set(10, 11, { status: 'completed', finished_at: sql`now() - interval '2 hours'` })
  await set(11, 12, { status: 'cancelled', finished_at: sql`now()` })
  // The oldest runnable request became runnable two minutes ago.
  await sql`UPDATE ${sql.table(`${BOSS_SCHEMA}.job`)} SET start_after = now() - interval '120 seconds'
    WHERE id = (SELECT job_id FROM processing_requests WHERE id = ${ids[0]})`.execute(db)

  const res = await m.asStaff('GET', '/api/v1/admin/monitoring/')
  t.equal(res.statusCode, 200)
  const byName = Object.fromEntries(res.data.features.map((f: { name: string }) => [f.name, f]))
  t.same(byName['mon-work'], {
    name: 'mon-work', queued: 3, active: 2, delayed: 2, completed_last_hour: 2, failed_last_hour: 1, paused: false, concurrency: null,
  })
  t.same(byName['mon-other'], {
    name: 'mon-other', queued: 2, active: 0, delayed: 0, completed_last_hour: 0, failed_last_hour: 0, paused: false, concurrency: null,
  })
  t.ok(byName['text-stats'], 'every registered feature is listed, idle ones too')
  t.equal(res.data.throughput.length, 60, 'sixty minutes')
  const minutes = res.data.throughput.map((p: { minute: string }) => Date.parse(p.minute))
  t.ok(minutes.every((m: number, i: number) => i === 0 || m - minutes[i - 1] === 60_000), 'one a minute, oldest first')
  const last = res.data.throughput.at(-1)
  t.same({ completed: last.completed, failed: last.failed }, { completed: 2, failed: 1 }, 'this minute holds the finished ones')
  t.equal(res.data.throughput.reduce((n: number, p: { completed: number }) => n + p.completed, 0), 2, 'nothing older than the hour')
  t.ok(res.data.oldest_waiting_seconds >= 120 && res.data.oldest_waiting_seconds < 180, `oldest waiting: ${res.data.oldest_waiting_seconds} s`)
  t.same(res.data.instances, [], 'no engine, no instance')
  t.same(res.data.threads, { size: 0, busy: 0 })
})

t.test('instances announce themselves; threads are summed over the live ones; a silent one drops off', async (t) => {
  const m = await buildMonitoring(t, { env: { WORKER_THREADS: '2' } })
  const other = await startInstance(t, { ...m.config, workerThreads: 3 }, m.url)
  // An instance that stopped beating a minute ago.
  await m.services.db.insertInto('instances')
    .values({ id: '00000000-0000-4000-8000-000000000001', role: 'worker', threads: 8, busy: 8, last_seen_at: sql`now() - interval '1 minute'` as never })
    .execute()
  const res = await m.asStaff('GET', '/api/v1/admin/monitoring/')
  t.equal(res.data.instances.length, 2, 'the two live instances only')
  t.same(res.data.instances.map((i: { threads: number }) => i.threads).sort(), [2, 3])
  t.same(res.data.threads, { size: 5, busy: 0 })
  t.match(res.data.instances[0], { id: String, role: 'all', busy: 0, started_at: String, last_seen_at: String })

  // A busy thread shows up (the engine beats again when its busy count changes).
  const id = (await m.asUser('POST', '/api/v1/mon-work/create/', { ms: 60_000 })).data.id
  const busy = await until(() => m.asStaff('GET', '/api/v1/admin/monitoring/'), (r) => r.data.threads.busy === 1)
  t.equal(busy.data.features.find((f: { name: string }) => f.name === 'mon-work').active, 1)
  await m.asUser('POST', `/api/v1/mon-work/cancel/${id}/`)

  // A stopped instance leaves the list at once.
  await other.stop()
  const after = await m.asStaff('GET', '/api/v1/admin/monitoring/')
  t.same(after.data.instances.map((i: { threads: number }) => i.threads), [2])
})

t.test('only staff: anonymous 401, a user 403; an unknown feature is 404 and a bad limit 400', async (t) => {
  const m = await buildMonitoring(t, { engine: false })
  const anonymous = await m.app.inject({ method: 'GET', url: '/api/v1/admin/monitoring/' })
  t.equal(anonymous.statusCode, 401)
  t.same(anonymous.json(), { detail: 'Authentication credentials were not provided.' })
  for (const [method, url] of [['GET', '/api/v1/admin/monitoring/'], ['POST', '/api/v1/admin/monitoring/features/mon-work/pause/'],
    ['POST', '/api/v1/admin/monitoring/features/mon-work/resume/'], ['PATCH', '/api/v1/admin/monitoring/features/mon-work/']] as const) {
    const res = await m.asUser(method, url, method === 'PATCH' ? { concurrency: 1 } : undefined)
    t.equal(res.statusCode, 403, `${method} ${url} as a user`)
  }
  t.equal((await m.asStaff('POST', '/api/v1/admin/monitoring/features/nope/pause/')).statusCode, 404)
  t.equal((await m.asStaff('PATCH', '/api/v1/admin/monitoring/features/nope/', { concurrency: 2 })).statusCode, 404)
  for (const bad of [0, -1, 1.5, '2', true]) {
    const res = await m.asStaff('PATCH', '/api/v1/admin/monitoring/features/mon-work/', { concurrency: bad })
    t.equal(res.statusCode, 400, `concurrency ${JSON.stringify(bad)}`)
    t.ok(res.data.concurrency, 'the field is named')
  }
  const set = await m.asStaff('PATCH', '/api/v1/admin/monitoring/features/mon-work', { concurrency: 3 })
  t.equal(set.statusCode, 200, 'without the trailing slash too')
  t.match(set.data, { name: 'mon-work', concurrency: 3, paused: false })
  const cleared = await m.asStaff('PATCH', '/api/v1/admin/monitoring/features/mon-work/', { concurrency: null })
  t.match(cleared.data, { concurrency: null })
  const paused = await m.asStaff('POST', '/api/v1/admin/monitoring/features/mon-work/pause/')
  t.same(paused.data, { name: 'mon-work', queued: 0, active: 0, delayed: 0, completed_last_hour: 0, failed_last_hour: 0, paused: true, concurrency: null })
})
