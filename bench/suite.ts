// `npm run bench`: Conveyor in production mode, as the processes an operator runs, on a fresh database,
// driven over loopback. Every figure is printed beside a ceiling measured in the same run, with the
// ratio; the table is also written to bench/results.json. Nothing here is asserted: it measures.
// Job times come from the database's clock (created_at, started_at, finished_at), not from ours.
//
// Database: BENCH_DATABASE_URL or TEST_DATABASE_URL (an admin connection; a database is created and
// dropped) or postgres://postgres@127.0.0.1:5432/postgres. Knobs: BENCH_BURST (2000 creates),
// BENCH_SECONDS (10 per autocannon comparison), BENCH_SUSTAINED_SECONDS (120), WORKER_THREADS (2),
// BENCH_IDLE_JOBS (100), BENCH_CSV_ROUNDS (3),
// BENCH_ONLY=startup,memory,status,idle,burst,csv,scale,split,sustained (a subset), BENCH_NODE_OPTIONS
// (NODE_OPTIONS for the Conveyor instances; by default the Dockerfile's), BENCH_SOURCES=1 (the .ts
// sources even when dist/ is built), BENCH_DEBUG=1 (each instance's stdout to a file, and the slowest
// idle jobs' creation times).
import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream, existsSync } from 'node:fs'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { PgBoss } from 'pg-boss'

const root = path.resolve(import.meta.dirname, '..')
const admin = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const BURST = Number(process.env.BENCH_BURST ?? 2000)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
const IDLE_JOBS = Number(process.env.BENCH_IDLE_JOBS ?? 100)
const CSV_ROUNDS = Number(process.env.BENCH_CSV_ROUNDS ?? 3)
const SUSTAINED = Number(process.env.BENCH_SUSTAINED_SECONDS ?? 120)
const ALL = 'startup,memory,status,idle,burst,csv,scale,split,sustained'
const only = new Set((process.env.BENCH_ONLY ?? ALL).split(','))
const THREADS = Number(process.env.WORKER_THREADS ?? 2)
// The runtime settings the image runs with (its Dockerfile's ENV NODE_OPTIONS and MALLOC_ARENA_MAX),
// for the instances only; BENCH_NODE_OPTIONS replaces the first (an empty value: V8's defaults),
// BENCH_ENV="NAME=value …" adds to or replaces the environment (e.g. MALLOC_ARENA_MAX=8).
const dockerfile = await readFile(path.join(root, 'Dockerfile'), 'utf8').catch(() => '')
const imageEnv = (name: string) => new RegExp(`^ENV ${name}="?([^"\n]*)"?$`, 'm').exec(dockerfile)?.[1]
const NODE_OPTIONS = process.env.BENCH_NODE_OPTIONS ?? imageEnv('NODE_OPTIONS') ?? ''
const INSTANCE_ENV: Record<string, string> = {
  ...(imageEnv('MALLOC_ARENA_MAX') ? { MALLOC_ARENA_MAX: imageEnv('MALLOC_ARENA_MAX')! } : {}),
  ...Object.fromEntries((process.env.BENCH_ENV ?? '').split(/\s+/).filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])),
}
// Memory is read once an instance has settled: left quiet until its PSS has moved less than 1 MB
// over 3 s (at most 20 s). Each isolate gives back what start-up or a burst left after 3 s of quiet
// (worker/threads/reclaim.ts); the figure 2 s after the quiet began, before that, is printed beside it.
async function settled(pid: number): Promise<{ mb: number; early: number; seconds: number }> {
  const begun = performance.now()
  await sleep(2000)
  const early = await pssMb(pid)
  const samples: number[] = [early]
  while (performance.now() - begun < 20_000) {
    await sleep(500)
    samples.push(await pssMb(pid))
    const last = samples.slice(-7)
    if (samples.length >= 7 && Math.max(...last) - Math.min(...last) < 1) break
  }
  return { mb: samples.at(-1)!, early, seconds: (performance.now() - begun) / 1000 }
}

/** The p-th percentile by nearest rank: of 100 values, p99 is the 99th smallest (not the largest). */
const pct = (values: number[], p: number) => {
  const s = [...values].sort((a, b) => a - b)
  return s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)] ?? NaN
}
const median = (values: number[]) => pct(values, 50)
const withDb = (name: string) => { const u = new URL(admin); u.pathname = `/${name}`; return u.toString() }
async function adminQuery(text: string) {
  const c = new pg.Client({ connectionString: admin })
  await c.connect()
  try { await c.query(text) } finally { await c.end() }
}

// ------------------------------------------------------------------ processes

interface Instance { proc: ChildProcess; base: string; readyMs: number; output: () => string; stop(): Promise<number | null> }

/** The command an operator runs: compiled JavaScript when built (the image's), else the sources. */
function cliCommand(): string[] {
  const compiled = path.join(root, 'dist', 'server', 'cli.js')
  return existsSync(compiled) && !process.env.BENCH_SOURCES ? [compiled] : [path.join(root, 'server', 'cli.ts')]
}

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net')
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })
}

/**
 * Starts `cli start` and resolves once it is ready: /readyz answers 200 for a role with HTTP (the
 * engine of role `all` is started before the server listens); a worker-only instance has no HTTP,
 * so it runs at LOG_LEVEL=info (it logs no line per job) and is ready at its "ready" log line.
 */
async function startInstance(url: string, media: string, env: Record<string, string> = {}): Promise<Instance> {
  const port = await freePort()
  const worker = env.ROLE === 'worker'
  const started = performance.now()
  const proc = spawn(process.execPath, [...cliCommand(), 'start'], {
    cwd: root,
    env: {
      PATH: process.env.PATH, HOME: process.env.HOME,
      NODE_ENV: 'production', DATABASE_URL: url, PORT: String(port), HOST: '127.0.0.1',
      SECRET_KEY: 'benchmark-secret-key-of-more-than-thirty-two-characters', ALLOWED_HOSTS: '127.0.0.1,localhost',
      FRONTEND_URL: `http://127.0.0.1:${port}`, EMAIL_BACKEND: 'log', ACCOUNT_EMAIL_VERIFICATION: 'none',
      MEDIA_ROOT: media, WORKER_THREADS: String(THREADS), LOG_LEVEL: worker ? 'info' : 'warn',
      THROTTLE_REGISTRATION_PER_IP: '0/m',
      ...(NODE_OPTIONS ? { NODE_OPTIONS } : {}),
      ...INSTANCE_ENV,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let ready = false
  proc.stdout!.on('data', (d) => { out += d; if (/ ready: /.test(out)) ready = true })
  if (process.env.BENCH_DEBUG) proc.stdout!.pipe(createWriteStream(path.join(tmpdir(), `conveyor-bench-out-${proc.pid}.log`)))
  proc.stderr!.on('data', (d) => (out += d))
  const base = `http://127.0.0.1:${port}`
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`Conveyor exited with ${proc.exitCode}:\n${out}`)
    if (worker ? ready : await fetch(`${base}/readyz`).then((r) => r.ok, () => false)) break
    await sleep(5)
  }
  const readyMs = performance.now() - started
  return {
    proc, base, readyMs, output: () => out,
    stop: () => new Promise((resolve) => {
      if (proc.exitCode !== null) return resolve(proc.exitCode)
      proc.once('exit', (code) => resolve(code))
      proc.kill('SIGTERM')
    }),
  }
}

/** Proportional set size of a process (its share of shared pages; worker threads included), in MB. */
async function pssMb(pid: number): Promise<number> {
  const text = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8')
  return Number(/^Pss:\s+(\d+)/m.exec(text)?.[1] ?? NaN) / 1024
}

/** The fields of /proc/<pid>/stat after the command name (state is [0], ppid [1], utime [11]), or []. */
async function statFields(pid: number | string): Promise<string[]> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')
  return stat ? stat.slice(stat.lastIndexOf(')') + 2).split(' ') : []
}

/** CPU seconds (user + system) a process has used, from /proc (clock ticks of 10 ms). */
async function cpuSeconds(pid: number): Promise<number> {
  const f = await statFields(pid)
  return f.length > 12 ? (Number(f[11]) + Number(f[12])) / 100 : 0
}

/**
 * The postmaster of the server `db` is connected to, when that server runs on this machine: the
 * parent of our backend's pid, if that pid here is a postgres process (a remote server's pid may
 * name any process of ours).
 */
async function postmasterOf(db: pg.Pool): Promise<number | null> {
  const { rows: [me] } = await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
  const comm = await readFile(`/proc/${me!.pid}/comm`, 'utf8').catch(() => '')
  const ppid = Number((await statFields(me!.pid))[1])
  return comm.startsWith('postgres') && ppid > 1 ? ppid : null
}

/**
 * CPU seconds the whole PostgreSQL server has used: its live processes (backends, autovacuum
 * workers, checkpointer, WAL writer…) and the ones that have exited, whose time the postmaster
 * collected when it reaped them (its cutime and cstime). Every database on the server counts.
 */
async function serverCpuSeconds(postmaster: number): Promise<number> {
  const own = await statFields(postmaster)
  let ticks = Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14])
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const f = await statFields(entry)
    if (Number(f[1]) === postmaster) ticks += Number(f[11]) + Number(f[12])
  }
  return ticks / 100
}

/**
 * CPU used so far by: the Conveyor processes given, the PostgreSQL backends connected to the
 * bench database (local server only; its background writers are not counted), and this load
 * generator. (Statements per job: BENCH_NODE_OPTIONS=--import=./bench/count-queries.ts; the
 * database's own counters are flushed up to 10 s late, too late to be read here.)
 */
async function costs(db: pg.Pool, pids: number[]) {
  const { rows } = await db.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database()')
  const backends = new Map<number, number>()
  for (const { pid } of rows) backends.set(pid, await cpuSeconds(pid))
  const node = (await Promise.all(pids.map(cpuSeconds))).reduce((a, b) => a + b, 0)
  const self = process.cpuUsage()
  return { node, backends, client: (self.user + self.system) / 1e6 }
}
type Costs = Awaited<ReturnType<typeof costs>>
/** Per-operation CPU milliseconds between two samples (backends that existed at both). */
function perOp(a: Costs, b: Costs, n: number) {
  let pgCpu = 0
  for (const [pid, s] of b.backends) pgCpu += s - (a.backends.get(pid) ?? 0)
  return { node: (b.node - a.node) * 1000 / n, pg: pgCpu * 1000 / n, client: (b.client - a.client) * 1000 / n }
}

// ------------------------------------------------------------------ load

async function register(base: string, email: string): Promise<string> {
  const res = await fetch(`${base}/api/v1/auth/registration/`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password1: 'a long enough passphrase 1', password2: 'a long enough passphrase 1' }),
  })
  const body = await res.json() as { key?: string }
  if (!body.key) throw new Error(`registration failed: ${res.status} ${JSON.stringify(body)}`)
  return body.key
}

async function create(base: string, key: string, text: string): Promise<string> {
  const res = await fetch(`${base}/api/v1/text-stats/create/`, {
    method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ text }),
  })
  if (res.status !== 202) throw new Error(`create answered ${res.status}: ${await res.text()}`)
  return ((await res.json()) as { id: string }).id
}

/** A burst: `n` creates from 20 keep-alive clients, each sending its next as soon as one is answered. */
async function burst(base: string, key: string, n: number, clients = 20): Promise<{ ids: string[]; seconds: number }> {
  const ids: string[] = []
  let next = 0
  const t0 = performance.now()
  await Promise.all(Array.from({ length: clients }, async () => {
    while (next < n) {
      const i = next++
      ids.push(await create(base, key, `Burst text number ${i}. It has a few words, and two sentences.`))
    }
  }))
  return { ids, seconds: (performance.now() - t0) / 1000 }
}

/**
 * Waits until every listed request is finished; the span is the database's, first created_at to
 * last finished_at, so how often this polls (and this process's clock) does not enter the figure.
 */
async function finished(db: pg.Pool, ids: string[]): Promise<{ seconds: number; completed: number; failed: number }> {
  for (;;) {
    const { rows } = await db.query<{ open: number; completed: number; failed: number; span: number }>(`
      SELECT count(*) FILTER (WHERE status IN ('pending', 'processing'))::int AS open,
             count(*) FILTER (WHERE status = 'completed')::int AS completed,
             count(*) FILTER (WHERE status = 'failed')::int AS failed,
             extract(epoch FROM max(finished_at) - min(created_at))::float AS span
        FROM processing_requests WHERE id = ANY($1::uuid[])`, [ids])
    const r = rows[0]!
    if (r.open === 0) return { seconds: r.span, completed: r.completed, failed: r.failed }
    await sleep(100)
  }
}

interface CannonResult { requests: { total: number }; duration: number; latency: { p99: number }; non2xx: number; errors: number }
// autocannon ships no types.
const autocannon = (await import('autocannon' as string)).default as (options: object) => Promise<CannonResult>

/**
 * Two routes compared fairly on a loaded machine: `seconds` one-second slices of each, in A-B-B-A
 * order, so a drifting background load weighs on both alike. Requests per second over all slices,
 * and the median of the slices' p99s.
 */
type Rate = { rps: number; p99: number; cpuMs: number }
async function compare(targets: { url: string; headers: Record<string, string>; pid?: number }[], seconds: number) {
  const run = async (t: (typeof targets)[number], duration: number) => {
    const r = await autocannon({ url: t.url, headers: t.headers, connections: 50, duration })
    if (r.non2xx || r.errors) throw new Error(`${t.url}: ${r.non2xx} non-2xx, ${r.errors} errors`)
    return r
  }
  for (const t of targets) await run(t, 1) // warm-up: JIT, pools, session cache
  const results: CannonResult[][] = targets.map(() => [])
  const cpu = targets.map(() => 0)
  // One-second rounds, interleaved, each round in another order: the machine's drift hits all alike.
  for (let i = 0; i < seconds; i++) {
    const order = targets.map((_, k) => (k + i) % targets.length)
    for (const k of order) {
      const t = targets[k]!
      const before = t.pid ? await cpuSeconds(t.pid) : 0
      results[k]!.push(await run(t, 1))
      if (t.pid) cpu[k]! += (await cpuSeconds(t.pid)) - before
    }
  }
  return results.map((rs, k) => {
    const requests = rs.reduce((n, r) => n + r.requests.total, 0)
    return {
      rps: requests / rs.reduce((n, r) => n + r.duration, 0),
      p99: median(rs.map((r) => r.latency.p99)),
      // CPU of the serving process per request (ms), when its pid was given: steadier than req/s on a shared machine.
      cpuMs: targets[k]!.pid ? (cpu[k]! * 1000) / requests : NaN,
    }
  })
}

/**
 * The best pg-boss does on this database: send() from 20 loops (as the burst's 20 clients) and
 * no-op work with the fastest options it has — a notify queue, big batches fetched back to back
 * while full, as many concurrent batches as Conveyor has threads. First send → last completion.
 */
async function bossCeiling(url: string, n: number): Promise<number> {
  const boss = new PgBoss({ connectionString: url, schema: 'bench_ceiling', max: 20 })
  boss.on('error', () => {})
  await boss.start()
  await boss.createQueue('noop', { notify: true })
  let done = 0
  let last = 0
  const all = new Promise<void>((resolve) => {
    void boss.work('noop', { batchSize: 50, burstWhenBatchFull: true, pollingIntervalSeconds: 0.5, localConcurrency: THREADS }, async (jobs) => {
      done += jobs.length
      last = performance.now()
      if (done >= n) resolve()
    })
  })
  const t0 = performance.now()
  let next = 0
  await Promise.all(Array.from({ length: 20 }, async () => { while (next++ < n) await boss.send('noop', { i: next }) }))
  await all
  await boss.stop({ graceful: false, close: true })
  return n / ((last - t0) / 1000)
}

/** Least-squares slope of ys over xs (per unit of x). */
function slope(xs: number[], ys: number[]): number {
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length
  const my = ys.reduce((a, b) => a + b, 0) / ys.length
  const num = xs.reduce((s, x, i) => s + (x - mx) * (ys[i]! - my), 0)
  const den = xs.reduce((s, x) => s + (x - mx) ** 2, 0)
  return den === 0 ? 0 : num / den
}

// ------------------------------------------------------------------ the run

type Row = { figure: string; value: number; unit: string; ceiling: number | null; ceilingName: string; goal: string }

async function main() {
  const name = `conveyor_bench_${process.pid}`
  await adminQuery(`CREATE DATABASE "${name}"`)
  const url = withDb(name)
  const media = await mkdtemp(path.join(tmpdir(), 'conveyor-bench-'))
  const db = new pg.Pool({ connectionString: url, max: 4 })
  const rows: Row[] = []
  const notes: string[] = []
  const add = (r: Row) => { rows.push(r); console.log(`# ${r.figure}: ${r.value.toFixed(1)} ${r.unit}${r.ceiling ? ` (ceiling ${r.ceiling.toFixed(1)}, ratio ${(r.value / r.ceiling).toFixed(2)})` : ''}`) }
  const note = (text: string) => { notes.push(text); console.log(`#   ${text}`) }
  const started: Instance[] = []
  const launch = async (env: Record<string, string> = {}) => { const i = await startInstance(url, media, env); started.push(i); return i }
  const stop = async (i: Instance) => { const code = await i.stop(); started.splice(started.indexOf(i), 1); return code }
  // Ctrl-C: stop what was started and drop the database, as the normal end does.
  const interrupted = () => void Promise.all(started.map((i) => i.stop()))
    .then(() => adminQuery(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).finally(() => process.exit(130))
  process.once('SIGINT', interrupted).once('SIGTERM', interrupted)
  const load0 = loadavg()[0]!
  const t0 = performance.now()
  try {
    console.log(`# migrating and starting ${cliCommand()[0]!.replace(root + '/', '')} (production, ${THREADS} threads); load average ${load0.toFixed(1)}`)
    // SIGTERM to exit of an instance at rest: its in-flight work is none, so this is what closing its
    // pools, threads and listeners costs (an idle pool left open once kept a process alive for 30 s).
    const stopTimes: number[] = []
    const timedStop = async (i: Instance) => {
      const t = performance.now()
      const code = await stop(i)
      stopTimes.push(performance.now() - t)
      if (code !== 0) throw new Error(`Conveyor exited with ${code} on SIGTERM:\n${i.output().slice(-2000)}`)
    }
    await timedStop(await launch()) // first start migrates and runs the one-time setup
    let app = await launch()
    if (only.has('startup')) {
      const times = [app.readyMs]
      for (let i = 0; i < 2; i++) { const again = await launch(); times.push(again.readyMs); await timedStop(again) }
      add({ figure: 'start-up to /readyz (migrated), median of 3', value: median(times), unit: 'ms', ceiling: null, ceilingName: '', goal: '≤ 600 ms' })
      add({ figure: 'shutdown at rest: SIGTERM to exit, median of 3', value: median(stopTimes), unit: 'ms', ceiling: null, ceilingName: '', goal: 'prompt (not in the issue)' })
    }
    const key = await register(app.base, 'bench@example.com')
    const auth = { authorization: `Bearer ${key}` }
    const { rows: [owner] } = await db.query<{ id: number }>(`SELECT id FROM users WHERE email = 'bench@example.com'`)

    if (only.has('memory')) {
      const idle = await settled(app.proc.pid!)
      add({ figure: `memory idle (PSS, ${THREADS} threads)`, value: idle.mb, unit: 'MB', ceiling: null, ceilingName: '', goal: '≤ 110 MB' })
      note(`memory idle 2 s after ready: ${idle.early.toFixed(1)} MB; settled after ${idle.seconds.toFixed(1)} s (the figure): ${idle.mb.toFixed(1)} MB`)
    }

    if (only.has('status')) {
      const id = await create(app.base, key, 'status target')
      await finished(db, [id])
      // Conveyor's response headers for this route, for the ceiling that sends the same ones.
      const sample = await fetch(`${app.base}/api/v1/text-stats/status/${id}/`, { headers: auth })
      await sample.arrayBuffer()
      const sent = Object.fromEntries([...sample.headers].filter(([name]) => !['content-length', 'content-type', 'date', 'connection', 'keep-alive'].includes(name)))
      const ceilingProc = spawn(process.execPath, [path.join(root, 'bench', 'ceiling-server.ts')], { env: { ...process.env, DATABASE_URL: url, CEILING_HEADERS: JSON.stringify(sent) }, stdio: ['ignore', 'pipe', 'inherit'] })
      const ceilingUrl = await new Promise<string>((resolve) => ceilingProc.stdout!.once('data', (d) => resolve(String(d).trim())))
      try {
        const [ours, bare, named, headed] = await compare([
          { url: `${app.base}/api/v1/text-stats/status/${id}/`, headers: auth, pid: app.proc.pid },
          { url: `${ceilingUrl}/status/${owner!.id}/${id}/`, headers: {}, pid: ceilingProc.pid },
          { url: `${ceilingUrl}/status-named/${owner!.id}/${id}/`, headers: {}, pid: ceilingProc.pid },
          { url: `${ceilingUrl}/status-headers/${owner!.id}/${id}/`, headers: {}, pid: ceilingProc.pid }], SECONDS) as [Rate, Rate, Rate, Rate]
        add({ figure: 'authenticated status GET (50 connections)', value: ours.rps, unit: 'req/s', ceiling: bare.rps, ceilingName: 'bare Fastify + same PK query', goal: '≥ 0.9× ceiling' })
        add({ figure: '  its p99', value: ours.p99, unit: 'ms', ceiling: bare.p99, ceilingName: 'bare route p99', goal: '' })
        // Conveyor sends this read as a named statement; the stricter ceiling does too.
        add({ figure: '  same, against a bare route with a named statement', value: ours.rps, unit: 'req/s', ceiling: named.rps, ceilingName: 'bare Fastify + same query, named', goal: '' })
        add({ figure: '  same, against a named bare route sending its headers', value: ours.rps, unit: 'req/s', ceiling: headed.rps, ceilingName: `named + Conveyor's ${Object.keys(sent).length} headers`, goal: '' })
        note(`CPU per status GET (the serving process): Conveyor ${ours.cpuMs.toFixed(3)} ms, bare route ${bare.cpuMs.toFixed(3)} ms, bare route with a named statement ${named.cpuMs.toFixed(3)} ms, the same sending Conveyor's headers ${headed.cpuMs.toFixed(3)} ms`)
        note(`the headers Conveyor sends on it (the last ceiling sends them too): ${Object.keys(sent).join(', ')}`)
      } finally { ceilingProc.kill() }
    }

    let idleStartedP50 = NaN
    if (only.has('idle')) {
      await settled(app.proc.pid!) // idle latency of an instance at rest, not of one just out of the status run
      const total: number[] = []
      const queued: number[] = []
      const createdAt: string[] = []
      for (let i = 0; i < IDLE_JOBS + 10; i++) {
        const id = await create(app.base, key, `idle ${i}. A short text.`)
        for (;;) {
          const { rows: r } = await db.query<{ ms: number; wait: number; at: string }>(`
            SELECT extract(epoch FROM finished_at - created_at) * 1000 AS ms, extract(epoch FROM started_at - created_at) * 1000 AS wait, created_at::text AS at
              FROM processing_requests WHERE id = $1 AND status = 'completed'`, [id])
          if (r[0]) { if (i >= 10) { total.push(Number(r[0].ms)); queued.push(Number(r[0].wait)); createdAt.push(r[0].at) } break }
          await sleep(5)
        }
      }
      idleStartedP50 = median(queued)
      add({ figure: 'idle create→completed p50 (database clock)', value: median(total), unit: 'ms', ceiling: null, ceilingName: '', goal: '≤ 6 ms' })
      add({ figure: 'idle create→completed p99', value: pct(total, 99), unit: 'ms', ceiling: null, ceilingName: '', goal: '≤ 15 ms' })
      note(`idle create→started p50 ${idleStartedP50.toFixed(1)} ms (the rest is the job's run and save)`)
      // Where the slowest went: waiting to start (create's commit, NOTIFY or signal, claim), or running and saving.
      // BENCH_DEBUG adds when they were created, to match them with a GC trace or a statement log.
      const slowest = total.map((ms, i) => ({ ms, wait: queued[i]!, at: createdAt[i]! })).sort((a, b) => b.ms - a.ms).slice(0, 3)
      note(`idle: ${total.length} jobs one after the other; the slowest ${slowest.map((s) => `${s.ms.toFixed(1)} ms (started after ${s.wait.toFixed(1)}${process.env.BENCH_DEBUG ? `, created ${s.at}` : ''})`).join(', ')}`)
      if (process.env.BENCH_DEBUG) note(`idle phase from ${createdAt[0]} to ${createdAt.at(-1)}`)
    }

    let createsAlone = NaN
    if (only.has('burst')) {
      // Creates alone: the same burst to an API-only instance, no engine running.
      const api = await launch({ ROLE: 'api' })
      await stop(app)
      let c0 = await costs(db, [api.proc.pid!])
      const alone = await burst(api.base, key, BURST)
      let c1 = await costs(db, [api.proc.pid!])
      createsAlone = BURST / alone.seconds
      const perCreate = perOp(c0, c1, BURST)
      await db.query(`UPDATE processing_requests SET status = 'cancelled', finished_at = now() WHERE status = 'pending'`)
      await db.query(`DELETE FROM pgboss.job WHERE state = 'created'`)
      await stop(api)
      app = await launch()
      c0 = await costs(db, [app.proc.pid!])
      const b = await burst(app.base, key, BURST)
      const done = await finished(db, b.ids)
      c1 = await costs(db, [app.proc.pid!])
      const job = perOp(c0, c1, BURST)
      const ceiling = await bossCeiling(url, BURST)
      add({ figure: `creates/s (burst of ${BURST}, 20 clients, engine running)`, value: BURST / b.seconds, unit: 'req/s', ceiling: createsAlone, ceilingName: 'creates alone (no engine)', goal: '≥ 1,800 req/s' })
      add({ figure: 'jobs end to end (first create → last completion)', value: done.completed / done.seconds, unit: 'jobs/s', ceiling: createsAlone, ceilingName: 'creates alone', goal: '≥ 1,000 jobs/s, ≥ 0.75× creates alone' })
      add({ figure: '  same, against raw pg-boss send + no-op work', value: done.completed / done.seconds, unit: 'jobs/s', ceiling, ceilingName: 'pg-boss send + no-op work', goal: '' })
      if (done.failed) note(`${done.failed} of the burst failed`)
      const f = (c: ReturnType<typeof perOp>) => `Conveyor ${c.node.toFixed(2)} ms, PostgreSQL backends ${c.pg.toFixed(2)} ms, load generator ${c.client.toFixed(2)} ms`
      note(`CPU per create alone: ${f(perCreate)}`)
      note(`CPU per job end to end (create + run): ${f(job)}`)
      const cpuMs = job.node + job.pg + job.client
      note(`=> at ${cpuMs.toFixed(2)} CPU ms per job, ${availableParallelism()} cores bound this at ${(availableParallelism() * 1000 / cpuMs).toFixed(0)} jobs/s with nothing else running`)
    }

    if (only.has('memory')) {
      for (let i = 0; i < 6; i++) await finished(db, (await burst(app.base, key, BURST)).ids)
      const { mb: after, early, seconds } = await settled(app.proc.pid!)
      note(`memory after the jobs, 2 s after the last one: ${early.toFixed(1)} MB; settled after ${seconds.toFixed(1)} s (the figure): ${after.toFixed(1)} MB`)
      const idle = rows.find((r) => r.figure.startsWith('memory idle'))!.value
      add({ figure: `memory after ${6 * BURST} more jobs (PSS)`, value: after, unit: 'MB', ceiling: idle, ceilingName: 'idle', goal: '≤ 1.2× idle' })
    }

    if (only.has('csv')) {
      const target = await create(app.base, key, 'probe target')
      await finished(db, [target])
      const probe = async (until: () => boolean) => {
        const times: number[] = []
        while (!until()) {
          const t = performance.now()
          await fetch(`${app.base}/api/v1/text-stats/status/${target}/`, { headers: auth }).then((r) => r.arrayBuffer())
          times.push(performance.now() - t)
          await sleep(10)
        }
        return times
      }
      // ~16 MB each: long enough (seconds per file) to probe while every thread is busy.
      const csv = Buffer.from(['id,name,amount,ratio,tag', ...Array.from({ length: 500_000 }, (_, i) => `${i},name ${i % 977},${(i * 37) % 100000},${((i % 1000) / 7).toFixed(4)},x${i % 13}`)].join('\n'))
      // Rounds of (idle probe, busy probe), pooled: one round gives ~150 busy samples, whose p99 is
      // its second slowest, and moved 0.6-5x between runs on this machine.
      const idle: number[] = []
      const busy: number[] = []
      const outcome = { completed: 0, failed: 0 }
      for (let round = 0; round < CSV_ROUNDS; round++) {
        let n = 0
        idle.push(...await probe(() => n++ >= 200))
        const ids: string[] = []
        for (let i = 0; i < THREADS; i++) {
          const form = new FormData()
          form.append('file', new Blob([csv], { type: 'text/csv' }), 'bench.csv')
          const res = await fetch(`${app.base}/api/v1/csv-profile/create/`, { method: 'POST', headers: auth, body: form })
          if (res.status !== 202) throw new Error(`csv-profile create answered ${res.status}: ${await res.text()}`)
          ids.push(((await res.json()) as { id: string }).id)
        }
        // Probe only while every thread is profiling: from the last start to the first finish.
        const state = async () => (await db.query<{ processing: number; done: number }>(`
          SELECT count(*) FILTER (WHERE status = 'processing')::int AS processing, count(*) FILTER (WHERE finished_at IS NOT NULL)::int AS done
            FROM processing_requests WHERE id = ANY($1::uuid[])`, [ids])).rows[0]!
        while ((await state()).processing < THREADS) await sleep(5)
        let allBusy = true
        const watcher = (async () => { while (allBusy) { const s = await state(); if (s.done > 0 || s.processing < THREADS) allBusy = false; else await sleep(20) } })()
        busy.push(...await probe(() => !allBusy))
        await watcher
        const o = await finished(db, ids)
        outcome.completed += o.completed
        outcome.failed += o.failed
      }
      add({ figure: `status GET p99 while ${THREADS} threads profile CSVs`, value: pct(busy, 99), unit: 'ms', ceiling: pct(idle, 99), ceilingName: 'idle p99, same route', goal: '≤ 2× idle' })
      note(`${busy.length} status GETs while all threads were busy, ${CSV_ROUNDS} rounds (p50 ${median(busy).toFixed(1)} ms, idle p50 ${median(idle).toFixed(1)} ms); csv-profile ${outcome.completed} completed, ${outcome.failed} failed`)
    }
    await stop(app)

    if (only.has('scale')) {
      // Throughput of k worker instances on one database: a backlog created through an API-only
      // instance, drained by k instances started together; counted from the moment all are ready
      // (database clock), so start-up and the first instance's head start are left out.
      const api = await launch({ ROLE: 'api' })
      const drain = async (k: number) => {
        const ids = (await burst(api.base, key, BURST * 2)).ids
        const workers = await Promise.all(Array.from({ length: k }, () => launch({ ROLE: 'worker' })))
        const { rows: [t] } = await db.query<{ at: Date }>('SELECT now() AS at')
        await finished(db, ids)
        const { rows: [r] } = await db.query<{ n: number; span: number }>(`
          SELECT count(*)::int AS n, extract(epoch FROM max(finished_at) - $2)::float AS span
            FROM processing_requests WHERE id = ANY($1::uuid[]) AND finished_at > $2 AND status = 'completed'`, [ids, t!.at])
        await Promise.all(workers.map(stop))
        return r!.n / r!.span
      }
      const one = await drain(1)
      const two = await drain(2)
      add({ figure: 'backlog drained, two worker instances', value: two, unit: 'jobs/s', ceiling: one, ceilingName: 'one worker instance', goal: '> 1× (on 2 cores: ≈ 1×)' })
      await stop(api)
    }

    if (only.has('split')) {
      const api = await launch({ ROLE: 'api' })
      const worker = await launch({ ROLE: 'worker' })
      const waits: number[] = []
      for (let i = 0; i < 60; i++) {
        const id = await create(api.base, key, `split ${i}`)
        await finished(db, [id])
        const { rows: r } = await db.query<{ ms: number }>(`SELECT extract(epoch FROM started_at - created_at) * 1000 AS ms FROM processing_requests WHERE id = $1`, [id])
        waits.push(Number(r[0]!.ms))
      }
      const same = Number.isNaN(idleStartedP50) ? null : idleStartedP50
      add({ figure: 'create→started, API and worker separate: first job', value: waits[0]!, unit: 'ms', ceiling: same, ceilingName: 'one instance, p50', goal: 'no outlier (600 ms seen once)' })
      add({ figure: '  p50 of the next 50', value: median(waits.slice(10)), unit: 'ms', ceiling: same, ceilingName: 'one instance, p50', goal: '≈ 1× + one NOTIFY' })
      await Promise.all([stop(worker), stop(api)])
    }

    if (only.has('sustained')) {
      // A queue table is updated on every status change: without vacuum its dead rows pile up and
      // every claim reads past them, so a long run slows down for the database's sake, not ours.
      const { rows: [av] } = await db.query<{ autovacuum: string }>('SHOW autovacuum')
      if (av?.autovacuum !== 'on') note(`autovacuum is ${av?.autovacuum} on this PostgreSQL server: the sustained run's dead rows are never vacuumed, so its throughput decays with them`)
      const inst = await launch()
      // Where a slowdown comes from: CPU per job of Conveyor, of the bench database's backends, and
      // of the rest of the server (autovacuum, checkpoints, WAL), when the server is on this machine.
      const postmaster = await postmasterOf(db)
      const sample = async () => ({ costs: await costs(db, [inst.proc.pid!]), server: postmaster ? await serverCpuSeconds(postmaster) : NaN })
      type Slice = { at: number; rate: number; pss: number; conveyor: number; backends: number; server: number }
      const cpuOf = (x: Slice) => `Conveyor ${x.conveyor.toFixed(2)} ms, PostgreSQL ` + (postmaster
        ? `${x.server.toFixed(2)} ms (its backends ${x.backends.toFixed(2)}, autovacuum, checkpoints and WAL ${(x.server - x.backends).toFixed(2)})`
        : `backends ${x.backends.toFixed(2)} ms`)
      const slices: Slice[] = []
      const begin = performance.now()
      const end = begin + SUSTAINED * 1000
      const slice = Math.max(5_000, Math.min(30_000, SUSTAINED * 100)) // ≥ 10 slices on a long run
      while (performance.now() < end) {
        const sliceEnd = Math.min(end, performance.now() + slice)
        let n = 0
        const c0 = await sample()
        const s0 = performance.now()
        while (performance.now() < sliceEnd) { await finished(db, (await burst(inst.base, key, 200)).ids); n += 200 }
        const rate = n / ((performance.now() - s0) / 1000)
        const c1 = await sample()
        const job = perOp(c0.costs, c1.costs, n)
        slices.push({
          at: (performance.now() - begin) / 60_000, rate, pss: await pssMb(inst.proc.pid!),
          conveyor: job.node, backends: job.pg, server: (c1.server - c0.server) * 1000 / n,
        })
        const last = slices.at(-1)!
        console.log(`#   sustained slice ${slices.length}: ${last.rate.toFixed(0)} jobs/s, ${last.pss.toFixed(1)} MB; CPU per job: ${cpuOf(last)}`)
      }
      // The first slice warms up (JIT, pools, caches): trends are read from the second on.
      const steady = slices.length > 2 ? slices.slice(1) : slices
      const xs = steady.map((s) => s.at)
      const meanRate = steady.reduce((a, s) => a + s.rate, 0) / steady.length
      const meanPss = steady.reduce((a, s) => a + s.pss, 0) / steady.length
      add({ figure: `sustained ${SUSTAINED} s: throughput, last slice`, value: steady.at(-1)!.rate, unit: 'jobs/s', ceiling: steady[0]!.rate, ceilingName: 'first steady slice', goal: 'no decay (≈ 1×)' })
      add({ figure: `sustained ${SUSTAINED} s: memory, last slice`, value: steady.at(-1)!.pss, unit: 'MB', ceiling: steady[0]!.pss, ceilingName: 'first steady slice', goal: 'no growth (≈ 1×)' })
      // Under load V8 lets garbage pile up to its own limits; what matters is that it is garbage.
      const { mb: quietAfter } = await settled(inst.proc.pid!)
      const idleRow = rows.find((r) => r.figure.startsWith('memory idle'))
      add({ figure: `sustained ${SUSTAINED} s: memory once settled after it`, value: quietAfter, unit: 'MB', ceiling: idleRow?.value ?? null, ceilingName: 'idle', goal: '≈ idle (nothing kept)' })
      const [a, z] = [steady[0]!, steady.at(-1)!]
      // The machine's own speed drifts within minutes (BENCHMARKS.md); CPU per job does not drift
      // with it, so it is what says whether a long run gets dearer.
      const perJob = (x: Slice) => x.conveyor + (postmaster ? x.server : x.backends)
      add({ figure: `sustained ${SUSTAINED} s: CPU per job, last slice`, value: perJob(z), unit: 'ms', ceiling: perJob(a), ceilingName: 'first steady slice', goal: 'no growth (≈ 1×)' })
      note(`sustained CPU per job, first steady slice: ${cpuOf(a)}; last: ${cpuOf(z)}`)
      const { rows: [size] } = await db.query<{ db: string; requests: string }>(
        "SELECT pg_size_pretty(pg_database_size(current_database())) AS db, pg_size_pretty(pg_total_relation_size('processing_requests')) AS requests")
      note(`the database after the sustained run: ${size!.db} (processing_requests with its indexes ${size!.requests}); autovacuum ${av?.autovacuum}`)
      note(`sustained trends: throughput ${(slope(xs, steady.map((s) => s.rate)) / meanRate * 100).toFixed(1)} %/min, memory ${slope(xs, steady.map((s) => s.pss)).toFixed(2)} MB/min (${(slope(xs, steady.map((s) => s.pss)) / meanPss * 100).toFixed(1)} %/min) over ${steady.length} slices`)
      await stop(inst)
    }
  } finally {
    await Promise.all(started.map((i) => i.stop()))
    await db.end()
    await adminQuery(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).catch(() => {})
    await rm(media, { recursive: true, force: true })
  }

  const fmt = (v: number) => v.toFixed(Math.abs(v) < 100 ? 1 : 0)
  const table = rows.map((r) => [r.figure, `${fmt(r.value)} ${r.unit}`,
    r.ceiling ? `${fmt(r.ceiling)} (${r.ceilingName})` : '', r.ceiling ? (r.value / r.ceiling).toFixed(2) : '', r.goal])
  const head = ['figure', 'result', 'ceiling, same run', 'ratio', 'goal']
  const widths = head.map((_, i) => Math.max(...[head, ...table].map((r) => r[i]!.length)))
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`
  const machine = `${availableParallelism()} CPUs (${cpus()[0]?.model.trim()}), ${(totalmem() / 2 ** 30).toFixed(0)} GB, Node ${process.version}, ` +
    `${THREADS} worker threads, ${cliCommand()[0]!.endsWith('.js') ? 'compiled JavaScript' : 'TypeScript sources'}, NODE_OPTIONS=${NODE_OPTIONS || "(none)"}${Object.entries(INSTANCE_ENV).map(([k, v]) => ` ${k}=${v}`).join("")}; ` +
    `load average ${load0.toFixed(1)} at start, ${loadavg()[0]!.toFixed(1)} at end; ${((performance.now() - t0) / 1000).toFixed(0)} s`
  const settings = `BENCH_BURST=${BURST} BENCH_SECONDS=${SECONDS} BENCH_SUSTAINED_SECONDS=${SUSTAINED} BENCH_ONLY=${[...only].join(',')}`
  console.log(`\n${machine}\n${settings}\n${[line(head), line(widths.map((w) => '-'.repeat(w))), ...table.map(line)].join('\n')}`)
  for (const n of notes) console.log(`- ${n}`)
  await writeFile(path.join(root, 'bench', 'results.json'), JSON.stringify({ at: new Date().toISOString(), machine, settings, rows, notes }, null, 2) + '\n')
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
