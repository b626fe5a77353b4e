// The database going away and coming back, on the test's OWN PostgreSQL (the embedded binaries in a
// temp folder on a free port; the machine's shared server is never touched): the real server process
// must wait for it at start-up, answer 503 for what needs it while it is down, never crash, reconnect
// its pools and LISTEN connections, let pg-boss resume, end or refresh its SSE streams, and complete
// every job afterwards. Two outages: a restart (fast shutdown) and every backend terminated.
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import tap, { type Test } from 'tap'
import { createDb, isDatabaseUnavailable, type Db } from '../../db/index.ts'
import { preparedDb } from '../../db/prepared.ts'
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../db/embedded.ts'
import { sql } from 'kysely'
import { TEST_FEATURES, until } from '../jobs/support.ts'
import { freePort, http, spawnServer, type ServerProcess } from './fixtures/server.ts'
import { allSettled } from './support.ts'

const FAULT_FEATURES = path.join(import.meta.dirname, 'fixtures', 'fault-features.ts')
const ADMIN = { email: 'faults@example.com', password: 'a long enough passphrase' }
const quiet = { info() {}, warn() {} }

const dir = await mkdtemp(path.join(os.tmpdir(), 'conveyor-pg-faults-'))
const media = await mkdtemp(path.join(os.tmpdir(), 'conveyor-media-'))
const signals = await mkdtemp(path.join(os.tmpdir(), 'conveyor-signals-'))
await chmod(dir, 0o755) // run as root, PostgreSQL runs as the postgres user: it must reach the data folder inside
const port = await freePort()
let pg: EmbeddedPostgres | null = await startEmbeddedPostgres(path.join(dir, 'data'), port, quiet, { durable: false }) // initdb
const url = pg.url
await pg.stop()
pg = null
tap.teardown(async () => {
  await pg?.stop()
  await Promise.all([dir, media, signals].map((d) => rm(d, { recursive: true, force: true })))
})

let server: ServerProcess
let key = ''
let db: Db

/** Creates `n` requests, `parallel` at a time; returns their ids. */
async function createMany(n: number, body: (i: number) => [string, unknown]): Promise<string[]> {
  const ids: string[] = []
  for (let i = 0; i < n; i += 10) {
    const batch = await Promise.all(Array.from({ length: Math.min(10, n - i) }, (_, k) => {
      const [feature, input] = body(i + k)
      return http(server.url, 'POST', `/api/v1/${feature}/create/`, key, input)
    }))
    for (const r of batch) {
      if (r.status !== 202) throw new Error(`create answered ${r.status}: ${JSON.stringify(r.data)}`)
      ids.push(r.data.id)
    }
  }
  return ids
}

/** Reads an SSE stream until it ends; resolves with the last status it carried. */
async function follow(feature: string, id: string): Promise<string> {
  const res = await fetch(`${server.url}/api/v1/${feature}/events/${id}/`, { headers: { authorization: `Bearer ${key}` } })
  let last = ''
  let text = ''
  for await (const chunk of res.body!) {
    text += Buffer.from(chunk).toString()
    for (const m of text.matchAll(/"status":"(\w+)"/g)) last = m[1]!
    text = text.slice(-2000)
  }
  return last
}

/** Load that is running when the database goes: short jobs queued, slow ones on the threads, streams open. */
async function load() {
  const quick = await createMany(100, (i) => ['text-stats', { text: `request ${i}. Counting words in a short text.` }])
  const slow = await createMany(6, () => ['fault-phase', { stop_in: 'none', signal_dir: signals, work_ms: 1500 }])
  const streams = slow.slice(0, 3).map((id) => follow('fault-phase', id))
  await until(() => db.selectFrom('processing_requests').select('id').where('id', 'in', slow).where('status', '=', 'processing').execute(), (r) => r.length > 0,
    { timeoutMs: 30_000, intervalMs: 25 })
  return { ids: [...quick, ...slow], streams }
}

/** What must hold while the database is away. */
async function checkOutage(t: Test, someId: string): Promise<void> {
  t.equal((await http(server.url, 'GET', '/healthz')).status, 200, 'liveness still answers 200')
  t.equal((await http(server.url, 'GET', '/readyz')).status, 503, 'readiness answers 503')
  const status = await http(server.url, 'GET', `/api/v1/text-stats/status/${someId}/`, key)
  t.equal(status.status, 503, 'a read that needs the database answers 503')
  t.ok(status.headers.get('retry-after'), 'with Retry-After')
  const create = await http(server.url, 'POST', '/api/v1/text-stats/create/', key, { text: 'while the database is down' })
  t.equal(create.status, 503, 'a create answers 503 (nothing was created)')
  t.equal(server.child.exitCode, null, 'the process is alive')
}

/** What must hold once it is back: everything completes, streams ended, nothing crashed. */
async function checkRecovery(t: Test, ids: string[], streams: Promise<string>[]): Promise<void> {
  await until(() => http(server.url, 'GET', '/readyz'), (r) => r.status === 200, { timeoutMs: 30_000, intervalMs: 200 })
  const end = await allSettled(db, 50_000)
  t.same(end.stuck, [], 'no request left pending or processing')
  t.same(end.liveJobs, [], 'no finished request with a live pg-boss job')
  const rows = await db.selectFrom('processing_requests').select(['id', 'status']).where('id', 'in', ids).execute()
  t.same(rows.filter((r) => r.status !== 'completed'), [], `all ${ids.length} requests created before the outage completed`)
  const ended = await Promise.all(streams.map((s) => Promise.race([s, new Promise<string>((r) => setTimeout(() => r('still open'), 20_000))])))
  t.notOk(ended.includes('still open'), `every SSE stream ended (last statuses: ${ended.join(', ')})`)
  // pg-boss and the LISTEN connection resumed: a new request runs, and its stream sees it finish.
  const [fresh] = await createMany(1, () => ['text-stats', { text: 'after the outage' }])
  t.equal(await follow('text-stats', fresh!), 'completed', 'a request created afterwards completes, seen on its stream')
  t.equal(server.child.exitCode, null, 'the process is alive')
  t.same(server.stderr.filter((l) => /Unhandled|uncaught|ERR_UNHANDLED/i.test(l)), [], 'no unhandled error or rejection')
}

tap.test('start-up waits for an unreachable database, then starts', async (t) => {
  const starting = spawnServer(tap, { // the server outlives this subtest: the file's teardown ends it
    DATABASE_URL: url, MEDIA_ROOT: media, FEATURE_MODULES: `${TEST_FEATURES},${FAULT_FEATURES}`, WORKER_THREADS: '2',
    ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password, JOB_HEARTBEAT_SECONDS: '10', DATABASE_WAIT_SECONDS: '60', SHUTDOWN_GRACE_SECONDS: '5',
  })
  // The server is waiting: bring the database up only once it says so.
  await starting.waitFor((l) => /^Waiting for PostgreSQL/.test(l.msg))
  pg = await startEmbeddedPostgres(path.join(dir, 'data'), port, quiet, { durable: false })
  await starting.ready
  server = starting
  t.ok(server.messages(/^Waiting for PostgreSQL/).length > 0, 'it said what it was waiting for')
  t.ok(server.messages(/^PostgreSQL at .* is up after/).length > 0, 'and when the database came up')
  db = createDb(url, { max: 2 })
  tap.teardown(() => db.destroy())
  const login = await http(server.url, 'POST', '/api/v1/auth/login/', undefined, ADMIN)
  t.equal(login.status, 200)
  key = login.data.key
})

tap.test('a PostgreSQL restart under load: 503 meanwhile, no crash, everything completes after', async (t) => {
  const { ids, streams } = await load()
  // Clients checked out and idle between two statements when the server goes (what a transaction
  // doing file work between statements looks like): their connection's 'error' must not kill this
  // process, with or without the named-statement wrapper (db/prepared.ts).
  const pools = [createDb(url, { max: 1 }), createDb(url, { max: 1 })]
  const held = [pools[0]!, preparedDb(pools[1]!)!].map((p) => {
    let go!: () => void
    const released = new Promise<void>((r) => { go = r })
    const ready = new Promise<void>((ok) => {
      void p.connection().execute(async (c) => {
        await sql`SELECT 1`.execute(c)
        ok()
        await released
        return sql`SELECT ${1}::int AS one`.execute(c)
      }).then(() => 'answered', (err) => (isDatabaseUnavailable(err) ? 'unavailable' : String(err))).then((r) => results.push(r))
    })
    return { go, ready }
  })
  const results: string[] = []
  await Promise.all(held.map((h) => h.ready))
  await pg!.stop()
  pg = null
  await checkOutage(t, ids[0]!)
  held.forEach((h) => h.go())
  await until(async () => results.length, (n) => n === 2, { timeoutMs: 10_000 })
  t.same(results, ['unavailable', 'unavailable'], 'a held client fails its next statement as "unavailable", the process lives on')
  pg = await startEmbeddedPostgres(path.join(dir, 'data'), port, quiet, { durable: false })
  for (const p of pools) t.match((await sql<{ one: number }>`SELECT ${1}::int AS one`.execute(preparedDb(p)!)).rows, [{ one: 1 }], 'and the pool serves again')
  await Promise.all(pools.map((p) => p.destroy()))
  await checkRecovery(t, ids, streams)
  t.comment(`fault: restart with ${ids.length} requests in flight`)
})

tap.test('every backend terminated under load: no crash, everything completes after', async (t) => {
  const { ids, streams } = await load()
  const admin = createDb(url.replace(/\/conveyor$/, '/postgres'), { max: 1 })
  const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
    WHERE datname = 'conveyor' AND pid <> pg_backend_pid()) x`.execute(admin)
  await admin.destroy()
  t.ok(rows[0]!.n > 3, `terminated ${rows[0]!.n} backends (app pool, pg-boss, LISTEN connections, threads)`)
  await checkRecovery(t, ids, streams)
})

tap.test('SIGTERM after the outages: exit 0', async (t) => {
  server.child.kill('SIGTERM')
  t.match(await server.exit, { code: 0 }, 'exit code 0')
})
