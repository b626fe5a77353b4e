// `npm run bench:explain`: the query plans of every list and filter path on 100,000 requests.
// Makes a fresh database, migrates it, fills it (one user with half the requests, the worst case
// for a user's own lists; 199 others share the rest; two features; realistic statuses spread over
// 90 days; 1,000 schedules), then prints EXPLAIN (ANALYZE, BUFFERS) of each query exactly as the
// app sends it — the SQL is captured from the repository functions the routes call — and a summary.
// Database: BENCH_DATABASE_URL or TEST_DATABASE_URL (admin) or postgres://postgres@127.0.0.1:5432/postgres.
// EXPLAIN_ROWS (100000) sets the size; EXPLAIN_VERBOSE=0 prints the summary only; EXPLAIN_MIGRATE_TO=<name>
// stops at that migration (to compare the plans and the write cost before a migration).
// Last, the write cost of the indexes: a job's three writes of its row (insert pending, update
// processing, update completed), in bulk statements of 10,000 rows, best of three.
import { Kysely, PostgresDialect, sql, type CompiledQuery } from 'kysely'
import pg from 'pg'
import { createDb } from '../db/index.ts'
import type { Database } from '../db/types.ts'
import { createMigrator, migrateToLatest } from '../db/migrate.ts'
import { countRequests, listRequests, type ListFilter } from '../worker/requests/repository.ts'

const admin = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const ROWS = Number(process.env.EXPLAIN_ROWS ?? 100_000)
const VERBOSE = process.env.EXPLAIN_VERBOSE !== '0'

async function adminQuery(text: string) {
  const c = new pg.Client({ connectionString: admin })
  await c.connect()
  try { await c.query(text) } finally { await c.end() }
}

const name = `conveyor_explain_${process.pid}`
await adminQuery(`CREATE DATABASE "${name}"`)
const u = new URL(admin)
u.pathname = `/${name}`
// Every statement the repository functions send is kept, to be explained as it was sent.
let captured: CompiledQuery[] = []
const db = createDb(u.toString(), { max: 2, applicationName: 'conveyor-explain' })
const pool = new pg.Pool({ connectionString: u.toString(), max: 2 })
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v))
const capturing = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), log: (e) => { if (e.level === 'query') captured.push(e.query) } })

try {
  if (process.env.EXPLAIN_MIGRATE_TO) {
    const { error } = await createMigrator(db).migrateTo(process.env.EXPLAIN_MIGRATE_TO)
    if (error) throw error
  } else await migrateToLatest(db)
  const { rows: indexes } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_indexes WHERE tablename = 'processing_requests'`)
  const t0 = performance.now()
  await sql`INSERT INTO users (email, password) SELECT 'user' || i || '@example.com', 'x' FROM generate_series(1, 200) i`.execute(db)
  // Half the rows are user 1's; the other half spread over users 2..200.
  await sql`
    INSERT INTO processing_requests (owner_id, feature, status, progress, attempts, created_at, started_at, finished_at, error_message)
    SELECT CASE WHEN i % 2 = 0 THEN 1 ELSE 2 + (i % 199) END,
           CASE WHEN i % 10 < 7 THEN 'text-stats' ELSE 'csv-profile' END,
           s.status, CASE WHEN s.status = 'completed' THEN 100 ELSE 0 END, 1,
           c.at, c.at + interval '5 ms', CASE WHEN s.status IN ('pending', 'processing') THEN NULL ELSE c.at + interval '9 ms' END,
           CASE WHEN s.status = 'failed' THEN 'The text is empty.' END
      FROM generate_series(1, ${ROWS}) i,
           LATERAL (SELECT now() - (${ROWS} - i) * (interval '90 days' / ${ROWS}) AS at) c,
           LATERAL (SELECT CASE WHEN i % 100 < 90 THEN 'completed' WHEN i % 100 < 95 THEN 'failed'
                                WHEN i % 100 < 97 THEN 'cancelled' WHEN i % 100 < 99 THEN 'pending' ELSE 'processing' END AS status) s`.execute(db)
  await sql`
    INSERT INTO schedules (name, feature, cron, owner_id, enabled, description)
    SELECT 'schedule ' || lpad(i::text, 4, '0'), CASE WHEN i % 2 = 0 THEN 'text-stats' ELSE 'csv-profile' END, '*/5 * * * *',
           1 + (i % 200), i % 4 <> 0, 'nightly report ' || i FROM generate_series(1, 1000) i`.execute(db)
  await sql`VACUUM ANALYZE`.execute(db)
  console.log(`# ${ROWS} requests, 200 users (user 1 has ${ROWS / 2}), 1,000 schedules: filled in ${((performance.now() - t0) / 1000).toFixed(1)} s`)

  const page = { limit: 20, offset: 0 }
  const deep = { limit: 20, offset: 2000 } // page 101
  const paths: { path: string; run: (d: typeof db) => Promise<unknown> }[] = []
  const list = (path: string, filter: ListFilter, p = page) => {
    paths.push({ path: `${path} (count)`, run: (d) => countRequests(d, filter) })
    paths.push({ path: `${path} (page${p.offset ? ` at offset ${p.offset}` : ''})`, run: (d) => listRequests(d, filter, p) })
  }
  // The user's list of one feature's requests: GET /api/v1/<feature>/list/[?status][&ordering]
  list('GET /text-stats/list/', { ownerId: 1, feature: 'text-stats' })
  list('GET /text-stats/list/?page=101', { ownerId: 1, feature: 'text-stats' }, deep)
  list('GET /text-stats/list/?ordering=created_at', { ownerId: 1, feature: 'text-stats', ascending: true })
  list('GET /text-stats/list/?status=failed', { ownerId: 1, feature: 'text-stats', status: 'failed' })
  list('GET /text-stats/list/?status=processing', { ownerId: 1, feature: 'text-stats', status: 'processing' })
  // Across features: GET /api/v1/jobs/list/[?feature][&status]
  list('GET /jobs/list/', { ownerId: 1 })
  list('GET /jobs/list/?status=failed', { ownerId: 1, status: 'failed' })
  list('GET /jobs/list/?feature=csv-profile&status=failed', { ownerId: 1, feature: 'csv-profile', status: 'failed' })
  list('GET /jobs/list/ (a user with 250 requests)', { ownerId: 7 })
  // Staff: GET /api/v1/admin/jobs/[?feature][&status][&user]
  list('GET /admin/jobs/', { ownerId: null })
  list('GET /admin/jobs/?status=failed', { ownerId: null, status: 'failed' })
  list('GET /admin/jobs/?feature=csv-profile', { ownerId: null, feature: 'csv-profile' })
  list('GET /admin/jobs/?feature=csv-profile&status=pending', { ownerId: null, feature: 'csv-profile', status: 'pending' })
  list('GET /admin/jobs/?user=7', { ownerId: 7 })
  // Schedules: GET /api/v1/schedules/[?enabled][&feature][&search], the route's own query.
  const schedules = (path: string, filter: { enabled?: boolean; feature?: string; search?: string }) => {
    const base = (d: typeof db) => {
      let q = d.selectFrom('schedules')
      if (filter.enabled !== undefined) q = q.where('enabled', '=', filter.enabled)
      if (filter.feature) q = q.where('feature', '=', filter.feature)
      if (filter.search) q = q.where((eb) => eb.or([eb('name', 'ilike', `%${filter.search}%`), eb('description', 'ilike', `%${filter.search}%`)]))
      return q
    }
    paths.push({ path: `${path} (count)`, run: (d) => base(d).select(sql<number>`count(*)::int`.as('count')).executeTakeFirstOrThrow() })
    paths.push({ path: `${path} (page)`, run: (d) => base(d).selectAll().orderBy('name').limit(20).offset(0).execute() })
  }
  schedules('GET /schedules/', {})
  schedules('GET /schedules/?enabled=true&feature=text-stats', { enabled: true, feature: 'text-stats' })
  schedules('GET /schedules/?search=nightly', { search: 'nightly' })

  const summary: string[] = []
  for (const { path, run } of paths) {
    captured = []
    await run(capturing) // once for real (warms the cache, as a second visit finds it), capturing its SQL
    for (const q of captured) {
      const { rows } = await pool.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${q.sql}`, [...q.parameters])
      const plan = rows.map((r) => r['QUERY PLAN'])
      const time = /Execution Time: ([\d.]+)/.exec(plan.join('\n'))?.[1] ?? '?'
      const nodes = plan.map((l) => /^\s*(?:->\s+)?(Index Only Scan Backward|Index Only Scan|Index Scan Backward|Index Scan|Bitmap Index Scan|Seq Scan|Incremental Sort|Sort)(?: using (\w+))?(?: on (\w+))?/.exec(l))
        .filter((m) => m !== null).map((m) => [m[1], m[2] ?? m[3]].filter(Boolean).join(' '))
      summary.push(`| ${path} | ${time} ms | ${[...new Set(nodes)].join('; ')} |`)
      if (VERBOSE) console.log(`\n## ${path}\n${q.sql}\n-- ${JSON.stringify(q.parameters)}\n${plan.join('\n')}`)
    }
  }
  console.log(`\n| path | execution | plan |\n|---|---|---|\n${summary.join('\n')}`)

  const best: number[] = []
  for (let round = 0; round < 3; round++) {
    const t = performance.now()
    await pool.query(`INSERT INTO processing_requests (owner_id, feature) SELECT 3, 'text-stats' FROM generate_series(1, 10000)`)
    await pool.query(`UPDATE processing_requests SET status = 'processing', started_at = now(), attempts = 1 WHERE owner_id = 3 AND status = 'pending'`)
    await pool.query(`UPDATE processing_requests SET status = 'completed', progress = 100, finished_at = now() WHERE owner_id = 3 AND status = 'processing'`)
    best.push(performance.now() - t)
    await pool.query(`DELETE FROM processing_requests WHERE owner_id = 3`)
    await pool.query('VACUUM processing_requests')
  }
  console.log(`\n# write cost with ${indexes[0]!.n} indexes on processing_requests: ${(Math.min(...best) / 10_000 * 1000).toFixed(1)} µs per job (insert + 2 status updates), best of 3`)
} finally {
  await db.destroy()
  await capturing.destroy() // ends `pool`
  await adminQuery(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).catch(() => {})
}
