// `npm run bench:monitoring`: fills a fresh database with 100,000 processing requests (two days of
// history over four features: mostly completed, some failed and cancelled, a backlog of pending ones
// with their pg-boss jobs, some of them delayed retries, and some processing), then prints
// EXPLAIN (ANALYZE, BUFFERS) of every query GET /api/v1/admin/monitoring/ and the claim gate run, and
// the time of the whole overview. Asserts nothing.
// Database: TEST_DATABASE_URL (an admin connection) or postgres://postgres@127.0.0.1:5432/postgres;
// BENCH_REQUESTS (default 100000).
import { randomUUID } from 'node:crypto'
import { sql, type CompiledQuery } from 'kysely'
import { createDb } from '../db/index.ts'
import { migrateToLatest } from '../db/migrate.ts'
import { adminQuery, withDatabase } from '../test/setup/database.ts'
import { createBoss, queueName } from '../worker/index.ts'
import { finishedLastHourQuery, liveInstancesQuery, monitoringOverview, queueDepthsQuery } from '../worker/monitoring/overview.ts'

const admin = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const total = Number(process.env.BENCH_REQUESTS ?? 100_000)
const name = `conveyor_bench_monitoring_${process.pid}`
const FEATURES = ['text-stats', 'csv-profile', 'report', 'thumbnail']

await adminQuery(admin, `CREATE DATABASE "${name}"`)
const url = withDatabase(admin, name)
const db = createDb(url, { max: 4 })
const boss = createBoss(url, { databasePoolSize: 8 })
boss.on('error', (err) => console.error(err))
try {
  await migrateToLatest(db)
  await boss.start()
  for (const f of FEATURES) await boss.createQueue(queueName(f))
  const [{ id: owner }] = [await db.insertInto('users').values({ email: 'bench@example.com', password: '!' }).returning('id').executeTakeFirstOrThrow()]

  // History: finished requests spread over two days (about 70 per minute).
  const pending = Math.round(total * 0.01)
  const processing = 50
  const finished = total - pending - processing
  const t0 = performance.now()
  await sql`
    INSERT INTO processing_requests (owner_id, feature, status, attempts, created_at, started_at, finished_at, job_id)
    SELECT ${owner}, (${sql.val(FEATURES)}::text[])[1 + i % 4],
           CASE WHEN i % 20 = 0 THEN 'failed' WHEN i % 50 = 1 THEN 'cancelled' ELSE 'completed' END,
           1, at - interval '2 seconds', at - interval '1 second', at, gen_random_uuid()
      FROM (SELECT i, now() - (i::float8 / ${finished} * interval '2 days') AS at FROM generate_series(1, ${finished}) i) s`.execute(db)
  await sql`
    INSERT INTO processing_requests (owner_id, feature, status, attempts, created_at, started_at, job_id)
    SELECT ${owner}, (${sql.val(FEATURES)}::text[])[1 + i % 4], 'processing', 1, now() - interval '30 seconds', now() - interval '5 seconds', gen_random_uuid()
      FROM generate_series(1, ${processing}) i`.execute(db)
  // The backlog: pending requests with their jobs; every tenth a retry waiting for its delay.
  const rows = Array.from({ length: pending }, (_, i) => ({
    id: randomUUID(), jobId: randomUUID(), feature: FEATURES[i % 4]!, ageSeconds: pending - i, delayed: i % 10 === 0,
  }))
  for (let i = 0; i < rows.length; i += 1000) {
    const chunk = rows.slice(i, i + 1000)
    await db.insertInto('processing_requests').values(chunk.map((r) => ({
      id: r.id, owner_id: owner, feature: r.feature, input: '{}', job_id: r.jobId, created_at: new Date(Date.now() - r.ageSeconds * 1000),
    }))).execute()
    for (const f of FEATURES) {
      const jobs = chunk.filter((r) => r.feature === f).map((r) => ({
        id: r.jobId, data: { requestId: r.id }, startAfter: r.delayed ? new Date(Date.now() + 600_000) : new Date(Date.now() - r.ageSeconds * 1000),
      }))
      if (jobs.length) await boss.insert(queueName(f), jobs)
    }
  }
  // pg-boss keeps finished jobs for days (deleteAfterSeconds): one per finished request, so the job
  // table is as large as ours (raw INSERT into pgboss.job is documented, docs/sql/job-table.md).
  await sql`
    INSERT INTO pgboss.job (id, name, data, state, start_after, created_on, started_on, completed_on)
    SELECT job_id, 'feature.' || feature, json_build_object('requestId', id)::jsonb,
           (CASE status WHEN 'completed' THEN 'completed' WHEN 'failed' THEN 'failed' ELSE 'cancelled' END)::pgboss.job_state,
           created_at, created_at, started_at, finished_at
      FROM processing_requests WHERE status IN ('completed', 'failed', 'cancelled')`.execute(db)
  await sql`
    INSERT INTO pgboss.job (id, name, data, state, start_after, created_on, started_on)
    SELECT job_id, 'feature.' || feature, json_build_object('requestId', id)::jsonb, 'active', created_at, created_at, started_at
      FROM processing_requests WHERE status = 'processing'`.execute(db)
  await db.insertInto('feature_settings').values(FEATURES.map((feature, i) => ({ feature, concurrency: i === 0 ? 4 : null }))).execute()
  await db.insertInto('instances').values(Array.from({ length: 4 }, (_, i) => ({ id: randomUUID(), role: i ? 'worker' : 'all', threads: 4, busy: 2 }))).execute()
  await sql`VACUUM ANALYZE`.execute(db)
  console.log(`Filled ${total} requests (${finished} finished, ${pending} pending, ${processing} processing) in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`)

  const explain = async (title: string, compiled: CompiledQuery<unknown>) => {
    const { rows: plan } = await db.executeQuery<{ 'QUERY PLAN': string }>({
      ...compiled, sql: `EXPLAIN (ANALYZE, BUFFERS) ${compiled.sql}`, query: compiled.query,
    })
    console.log(`## ${title}\n${plan.map((r) => r['QUERY PLAN']).join('\n')}\n`)
  }
  await explain('Queue depth by feature and state, oldest waiting (monitoring, conveyor_queue_depth)', queueDepthsQuery().compile(db))
  await explain('Completed and failed per minute and feature, last hour (monitoring)', finishedLastHourQuery().compile(db))
  await explain('Live instances (monitoring)', liveInstancesQuery(db).compile())
  await explain('Feature settings (monitoring)', db.selectFrom('feature_settings').select(['feature', 'paused', 'concurrency']).compile())
  await explain('Claim gate: the settings row FOR SHARE (every claim)',
    sql`SELECT paused, concurrency FROM feature_settings WHERE feature = ${'text-stats'} FOR SHARE`.compile(db))
  await explain('Claim gate: processing attempts of a limited feature (claims of limited features)',
    sql`SELECT count(*)::int AS n FROM processing_requests WHERE feature = ${'text-stats'} AND status = 'processing'`.compile(db))

  const times: number[] = []
  for (let i = 0; i < 30; i++) {
    const s = performance.now()
    await monitoringOverview(db, FEATURES)
    times.push(performance.now() - s)
  }
  times.sort((a, b) => a - b)
  console.log(`monitoringOverview (all of the above, in parallel): median ${times[15]!.toFixed(1)} ms, max ${times.at(-1)!.toFixed(1)} ms over 30 runs`)
} finally {
  await boss.stop({ graceful: false }).catch(() => {})
  await db.destroy()
  await adminQuery(admin, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
}
