// SIGTERM under load, on the real CLI (server/cli.ts): an HTTP request still arriving completes, a
// running job that finishes within the grace period keeps its result, one that does not goes back for
// retry, the queued ones are untouched, and the exit code is 0. A second SIGTERM exits at once; the
// next start still completes every request.
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { request as httpRequest } from 'node:http'
import os from 'node:os'
import path from 'node:path'
import tap from 'tap'
import { createDb } from '../../db/index.ts'
import { testDatabase } from '../helper.ts'
import { TEST_FEATURES, until } from '../jobs/support.ts'
import { http, startServer, type ServerProcess } from './fixtures/server.ts'
import { allSettled } from './support.ts'

const FAULT_FEATURES = path.join(import.meta.dirname, 'fixtures', 'fault-features.ts')
const ADMIN = { email: 'sigterm@example.com', password: 'a long enough passphrase' }

const { url } = await testDatabase(tap)
const media = await mkdtemp(path.join(os.tmpdir(), 'conveyor-media-'))
const signals = await mkdtemp(path.join(os.tmpdir(), 'conveyor-signals-'))
tap.teardown(() => Promise.all([media, signals].map((d) => rm(d, { recursive: true, force: true }))))
const env = {
  DATABASE_URL: url, MEDIA_ROOT: media, FEATURE_MODULES: `${TEST_FEATURES},${FAULT_FEATURES}`, WORKER_THREADS: '2',
  ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password, SHUTDOWN_GRACE_SECONDS: '3', JOB_CANCEL_GRACE_SECONDS: '1', JOB_HEARTBEAT_SECONDS: '10',
}
const db = createDb(url, { max: 2 })
tap.teardown(() => db.destroy())

async function serve(): Promise<{ server: ServerProcess; key: string }> {
  const server = await startServer(tap, env)
  const login = await http(server.url, 'POST', '/api/v1/auth/login/', undefined, ADMIN)
  return { server, key: login.data.key }
}
const create = async (s: { server: ServerProcess; key: string }, feature: string, input: unknown): Promise<string> =>
  (await http(s.server.url, 'POST', `/api/v1/${feature}/create/`, s.key, input)).data.id
const statusOf = async (id: string) => db.selectFrom('processing_requests').select(['status', 'attempts', 'error_message']).where('id', '=', id).executeTakeFirstOrThrow()

let next: { server: ServerProcess; key: string }
let forced: string[] = []

tap.test('SIGTERM under load: the request in flight completes, running jobs finish or go back, exit 0', async (t) => {
  const s = await serve()
  const finishes = await create(s, 'fault-phase', { stop_in: 'none', signal_dir: signals, work_ms: 1000 })
  const hangs = await create(s, 'fault-phase', { stop_in: 'process', signal_dir: signals })
  await until(async () => existsSync(path.join(signals, `${hangs}.process`)) && (await statusOf(finishes)).status === 'processing', (ok) => ok, { timeoutMs: 30_000 })
  const queued = await Promise.all(Array.from({ length: 20 }, (_, i) => create(s, 'text-stats', { text: `queued ${i}. Behind the busy threads.` })))

  // A create whose body is still arriving when the signal comes.
  const body = JSON.stringify({ text: 'sent while the server shuts down' })
  const req = httpRequest(`${s.server.url}/api/v1/text-stats/create/`, {
    method: 'POST', headers: { authorization: `Bearer ${s.key}`, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'x-request-id': 'in-flight-at-sigterm' },
  })
  const answered = once(req, 'response').then(async ([res]) => {
    let text = ''
    for await (const chunk of res) text += chunk
    return { status: res.statusCode as number, data: JSON.parse(text) as { id: string } }
  })
  req.write(body.slice(0, 10))
  await s.server.waitFor((l) => l.msg === 'incoming request' && l.reqId === 'in-flight-at-sigterm')
  s.server.child.kill('SIGTERM')
  await s.server.waitFor((l) => l.msg === 'SIGTERM received')
  req.end(body.slice(10))
  const late = await answered.catch((err) => {
    t.comment(s.server.lines.slice(-15).map((l) => `${l.msg} ${JSON.stringify(l.req ?? l.res ?? '')}`).join('\n'))
    throw err
  })
  t.equal(late.status, 202, 'the request in flight at the signal completed')
  t.match(await s.server.exit, { code: 0 }, 'exit code 0, although a job outlived the grace period')
  t.ok(s.server.messages('Shutdown complete').length === 1, 'a complete shutdown')

  t.match(await statusOf(finishes), { status: 'completed', attempts: 1 }, 'the job that finished within the grace period kept its result')
  t.match(await statusOf(hangs), { status: 'pending', attempts: 1, error_message: 'Interrupted by a shutdown; it will run again.' }, 'the one that did not went back for retry')
  t.match(await statusOf(late.data.id), { status: 'pending' }, 'the late create is queued')
  const stillProcessing = await db.selectFrom('processing_requests').select('id').where('status', '=', 'processing').execute()
  t.same(stillProcessing, [], 'nothing left processing')

  next = await serve()
  const end = await allSettled(db, 40_000)
  t.same(end.stuck, [], 'the next start completes everything')
  t.match(await statusOf(hangs), { status: 'completed', attempts: 2 }, 'the interrupted job at its second attempt')
  const all = await db.selectFrom('processing_requests').select('status').execute()
  t.ok(all.every((r) => r.status === 'completed'), `all ${all.length} requests completed`)
})

tap.test('a second SIGTERM during the grace period exits at once; the next start loses no request', async (t) => {
  const s = next
  const hangs = await create(s, 'fault-phase', { stop_in: 'process', signal_dir: signals })
  await until(async () => existsSync(path.join(signals, `${hangs}.process`)), (ok) => ok, { timeoutMs: 30_000 })
  forced = [hangs, ...await Promise.all(Array.from({ length: 10 }, (_, i) => create(s, 'text-stats', { text: `queued ${i}.` })))]
  s.server.child.kill('SIGTERM')
  await s.server.waitFor((l) => l.msg === 'SIGTERM received')
  // The CLI ignores a repeat within 1 s (a terminal's Ctrl-C reaches npm and the server both): let it pass.
  await new Promise((r) => setTimeout(r, 1_100))
  s.server.child.kill('SIGTERM')
  t.match(await s.server.exit, { code: 1 }, 'exit code 1: stopped without waiting')
  t.ok(s.server.messages(/SIGTERM again: exiting without waiting/).length === 1, 'it said so')

  const last = await serve()
  const end = await allSettled(db, 45_000)
  t.same(end.stuck, [], 'the next start completes every request, the abandoned attempt after its heartbeat lapsed')
  const rows = await db.selectFrom('processing_requests').select(['id', 'status', 'attempts']).where('id', 'in', forced).execute()
  t.same(rows.filter((r) => r.status !== 'completed'), [], `all ${forced.length} requests of the forced exit completed`)
  t.match(await statusOf(hangs), { attempts: 2 }, 'the abandoned one ran again')
  last.server.child.kill('SIGTERM')
  t.match(await last.server.exit, { code: 0 })
})
