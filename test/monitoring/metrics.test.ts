// GET /metrics: Prometheus text with the names and labels of API.md, counters per instance that
// change by exactly the jobs run (counted where the transition commits), route patterns as labels,
// queue depth from the database, and access for staff or METRICS_TOKEN only.
import t from 'tap'
import { sql } from 'kysely'
import { until } from '../jobs/support.ts'
import { buildMonitoring, parseMetrics, series, startInstance } from './support.ts'

type Built = Awaited<ReturnType<typeof buildMonitoring>>
const scrape = async (m: Built, app = m.app) => {
  const res = await app.inject({ method: 'GET', url: '/metrics', headers: m.staff.headers })
  if (res.statusCode !== 200) throw new Error(`/metrics answered ${res.statusCode}`)
  return { text: res.body, values: parseMetrics(res.body) }
}
const jobs = (outcome: string, feature = 'mon-work') => series('conveyor_jobs_total', { feature, outcome })
const durations = (feature = 'mon-work') => series('conveyor_job_duration_seconds_count', { feature })

t.test('job counters change by exactly the jobs run, each outcome where it committed', async (t) => {
  const m = await buildMonitoring(t)
  const before = (await scrape(m)).values
  const delta = (now: Map<string, number>, key: string) => (now.get(key) ?? 0) - (before.get(key) ?? 0)
  const create = async (input: object) => (await m.asUser('POST', '/api/v1/mon-work/create/', input)).data.id as string
  const ids = [await create({}), await create({}), await create({}), await create({ fail: true }), await create({ fail_attempts: 1 })]
  const running = await create({ ms: 60_000 })
  await until(() => m.asUser('GET', `/api/v1/mon-work/status/${running}/`), (r) => r.data.status === 'processing')
  t.equal((await m.asUser('POST', `/api/v1/mon-work/cancel/${running}/`)).statusCode, 200)
  await until(() => Promise.all(ids.map((id) => m.asUser('GET', `/api/v1/mon-work/status/${id}/`))),
    (rs) => rs.every((r) => ['completed', 'failed'].includes(r.data.status)))
  // Seven attempts in all: 3 + 1 failed + 2 (the retried one) + 1 cancelled; the last observations
  // land just after the status changes, so wait for them, then check every count exactly.
  const after = (await until(() => scrape(m), (s) => delta(s.values, durations()) >= 7)).values
  t.equal(delta(after, jobs('created')), 6, 'created')
  t.equal(delta(after, jobs('completed')), 4, 'completed')
  t.equal(delta(after, jobs('failed')), 1, 'failed')
  t.equal(delta(after, jobs('retried')), 1, 'retried')
  t.equal(delta(after, jobs('cancelled')), 1, 'cancelled')
  t.equal(delta(after, durations()), 7, 'one duration per attempt')
  t.equal(delta(after, jobs('completed', 'mon-other')), 0, 'another feature untouched')

  // Another instance in the same process counts its own work only.
  const other = await startInstance(t, m.config, m.url, { engine: false })
  const theirs = (await scrape(m, other.app)).values
  t.equal(theirs.get(jobs('created')) ?? 0, 0, 'a second instance has its own counters')
})

t.test('a completion rolled back at COMMIT counts nothing as completed', async (t) => {
  const m = await buildMonitoring(t)
  // A deferred constraint trigger refuses the COMMIT of this request's result, after every statement
  // of the completion succeeded: only a count taken after the commit stays right.
  await sql`CREATE FUNCTION test_refuse_commit() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF (SELECT input->>'line_chars' FROM processing_requests WHERE id = NEW.request_id) = '7777' THEN
        RAISE EXCEPTION 'refused at commit';
      END IF;
      RETURN NULL;
    END $$`.execute(m.services.db)
  await sql`CREATE CONSTRAINT TRIGGER test_refuse_commit AFTER INSERT OR UPDATE ON processing_results
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_refuse_commit()`.execute(m.services.db)
  const before = (await scrape(m)).values
  const delta = (now: Map<string, number>, key: string) => (now.get(key) ?? 0) - (before.get(key) ?? 0)
  const id = (await m.asUser('POST', '/api/v1/mon-work/create/', { line_chars: 7777 })).data.id
  const done = await until(() => m.asUser('GET', `/api/v1/mon-work/status/${id}/`), (r) => r.data.status === 'failed')
  t.equal(done.data.attempts, 2, 'each attempt\'s completion was refused; the retry policy ran out')
  const after = (await until(() => scrape(m), (s) => delta(s.values, durations()) >= 2)).values
  t.equal(delta(after, jobs('completed')), 0, 'no completion counted')
  t.equal(delta(after, jobs('retried')), 1)
  t.equal(delta(after, jobs('failed')), 1)
  t.notOk(await m.services.db.selectFrom('processing_results').select('request_id').where('request_id', '=', id).executeTakeFirst(), 'no result stored')
})

t.test('HTTP metrics are labelled with the route pattern, and an unknown route with a fixed label', async (t) => {
  const m = await buildMonitoring(t, { engine: false })
  const id = (await m.asUser('POST', '/api/v1/mon-work/create/', {})).data.id
  await m.asUser('GET', `/api/v1/mon-work/status/${id}/`)
  await m.asUser('GET', `/api/v1/mon-work/status/${id}`)
  await m.asUser('GET', `/api/v1/no-such-thing/${id}/`)
  const { text, values } = await scrape(m)
  t.equal(values.get(series('conveyor_http_requests_total', { method: 'GET', route: '/api/v1/mon-work/status/:id/', status: '200' })), 2,
    'both spellings of the URL under one pattern')
  t.equal(values.get(series('conveyor_http_requests_total', { method: 'POST', route: '/api/v1/mon-work/create/', status: '202' })), 1)
  t.equal(values.get(series('conveyor_http_requests_total', { method: 'GET', route: '(unmatched)', status: '404' })), 1)
  t.ok(values.get(series('conveyor_http_request_duration_seconds_count', { method: 'GET', route: '/api/v1/mon-work/status/:id/' })), 'a duration histogram')
  t.notOk(text.includes(id), 'no raw URL in any label')
  t.equal(values.get(series('conveyor_queue_depth', { feature: 'mon-work', state: 'queued' })), 1, 'queue depth from the database')
  t.equal(values.get(series('conveyor_queue_depth', { feature: 'mon-other', state: 'queued' })), 0, 'every feature, idle ones at 0')
  t.ok(values.has('process_cpu_user_seconds_total') && values.has('nodejs_eventloop_lag_seconds'), 'default process and event-loop metrics')
})

t.test('worker threads by state come from the engine of the instance', async (t) => {
  const m = await buildMonitoring(t, { env: { WORKER_THREADS: '2' } })
  const id = (await m.asUser('POST', '/api/v1/mon-work/create/', { ms: 60_000 })).data.id
  await until(() => m.asUser('GET', `/api/v1/mon-work/status/${id}/`), (r) => r.data.status === 'processing')
  const { values } = await scrape(m)
  t.equal(values.get(series('conveyor_worker_threads', { state: 'busy' })), 1)
  t.equal(values.get(series('conveyor_worker_threads', { state: 'idle' })), 1)
  await m.asUser('POST', `/api/v1/mon-work/cancel/${id}/`)
})

t.test('/metrics: anonymous 401, a user 403, staff 200; METRICS_TOKEN works when set', async (t) => {
  const token = 'prometheus-scrape-token-0123456789'
  const m = await buildMonitoring(t, { engine: false, env: { METRICS_TOKEN: token } })
  const get = (headers: Record<string, string> = {}) => m.app.inject({ method: 'GET', url: '/metrics', headers })
  const anonymous = await get()
  t.equal(anonymous.statusCode, 401)
  t.same(anonymous.json(), { detail: 'Authentication credentials were not provided.' })
  t.equal((await get(m.user.headers)).statusCode, 403)
  const staff = await get(m.staff.headers)
  t.equal(staff.statusCode, 200)
  t.match(staff.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  const scraper = await get({ authorization: `Bearer ${token}` })
  t.equal(scraper.statusCode, 200)
  t.match(scraper.body, /# TYPE conveyor_jobs_total counter/)
  t.equal((await get({ authorization: `Bearer ${token}x` })).statusCode, 401, 'a wrong token')

  const plain = await buildMonitoring(t, { engine: false })
  t.equal((await plain.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${token}` } })).statusCode, 401,
    'no METRICS_TOKEN configured: a bearer is just an invalid key')
})
