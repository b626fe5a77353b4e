// The live job log: lines written with ctx.log() arrive on the request's SSE stream in order (served
// by one instance while another runs the job), are stored with their attempt, and are bounded.
import t from 'tap'
import { userWithToken } from '../helper.ts'
import { settled, until } from '../jobs/support.ts'
import { buildMonitoring, startInstance } from './support.ts'
import { readStream } from '../support/sse.ts'


t.test('log lines arrive live on another instance\'s stream, in order, before the final status', async (t) => {
  // A serves the stream (no engine); B runs the job.
  const a = await buildMonitoring(t, { engine: false })
  const base = await a.app.listen({ host: '127.0.0.1', port: 0 })
  await startInstance(t, a.config, a.url)
  // Paused, the request waits, so the stream is open before the first line is written.
  await a.asStaff('POST', '/api/v1/admin/monitoring/features/mon-work/pause/')
  const id = (await a.asUser('POST', '/api/v1/mon-work/create/', { lines: 30 })).data.id
  let opened!: () => void
  const first = new Promise<void>((r) => { opened = r })
  const stream = readStream(`${base}/api/v1/mon-work/events/${id}/`, a.user.headers, () => opened())
  await first
  await a.asStaff('POST', '/api/v1/admin/monitoring/features/mon-work/resume/')
  const events = await stream
  t.equal(events[0]!.event, 'status', 'the status first')
  t.equal(events[0]!.data.status, 'pending')
  const logs = events.filter((e) => e.event === 'log')
  t.same(logs.map((e) => e.data.message), Array.from({ length: 30 }, (_, i) => `line ${i + 1}`), 'every line, in order')
  t.same(Object.keys(logs[0]!.data).sort(), ['at', 'attempt', 'level', 'message'])
  t.ok(logs.every((e) => e.data.attempt === 1 && !Number.isNaN(Date.parse(e.data.at))), 'with their attempt and time')
  t.same(logs.filter((e) => e.data.level === 'warn').map((e) => e.data.message), ['line 10', 'line 20', 'line 30'], 'and level')
  t.equal(events.at(-1)!.data.status, 'completed', 'the stream ends with the final status, after the lines')

  // Reopened after the end: the status, then the stored lines, then the end.
  const replay = await readStream(`${base}/api/v1/mon-work/events/${id}/`, a.user.headers)
  t.same(replay.map((e) => e.event), ['status', ...Array(30).fill('log')])
  t.same(replay.slice(1).map((e) => e.data), logs.map((e) => e.data), 'the same lines as live')
})

t.test('the log is capped per attempt: the oldest lines are dropped behind a marker, long lines clipped', async (t) => {
  const m = await buildMonitoring(t)
  const base = await m.app.listen({ host: '127.0.0.1', port: 0 })
  const id = (await m.asUser('POST', '/api/v1/mon-work/create/', { lines: 1200 })).data.id
  await settled(m.app, () => m.asUser('GET', `/api/v1/mon-work/status/${id}/`), id, (r) => r.data.status === 'completed')
  const rows = await m.services.db.selectFrom('job_logs').selectAll().where('request_id', '=', id).orderBy('seq').execute()
  t.equal(rows.length, 500, 'at most 500 lines kept')
  t.match(rows[0], { seq: 0, level: 'warn', message: /^… 701 earlier lines dropped/ })
  const replay = (await readStream(`${base}/api/v1/mon-work/events/${id}/`, m.user.headers)).filter((e) => e.event === 'log')
  t.equal(replay.length, 500)
  t.match(replay[0]!.data.message, /701 earlier lines dropped/, 'the marker first')
  t.same(replay.slice(1).map((e) => e.data.message), Array.from({ length: 499 }, (_, i) => `line ${702 + i}`), 'then the newest lines, in order')

  const long = (await m.asUser('POST', '/api/v1/mon-work/create/', { lines: 1, line_chars: 5000 })).data.id
  await settled(m.app, () => m.asUser('GET', `/api/v1/mon-work/status/${long}/`), long, (r) => r.data.status === 'completed')
  const [line] = await m.services.db.selectFrom('job_logs').select('message').where('request_id', '=', long).execute()
  t.equal(line!.message.length, 1000, 'a line is at most 1,000 characters')
  t.ok(line!.message.endsWith('…'), 'marked as clipped')
})

t.test('staff may follow any request\'s stream; another user may not', async (t) => {
  const m = await buildMonitoring(t)
  const base = await m.app.listen({ host: '127.0.0.1', port: 0 })
  const id = (await m.asUser('POST', '/api/v1/mon-work/create/', { lines: 2 })).data.id
  await until(() => m.asUser('GET', `/api/v1/mon-work/status/${id}/`), (r) => r.data.status === 'completed')
  const staff = await readStream(`${base}/api/v1/mon-work/events/${id}/`, m.staff.headers)
  t.same(staff.map((e) => e.event), ['status', 'log', 'log'])
  const stranger = await userWithToken(m)
  const res = await fetch(`${base}/api/v1/mon-work/events/${id}/`, { headers: stranger.headers })
  t.equal(res.status, 404)
  await res.body?.cancel()
})
