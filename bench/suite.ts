// `npm run bench`: Conveyor in production mode, as the processes an operator runs, on a fresh database,
// driven over loopback. Every figure is printed beside a ceiling measured in the same run, with the
// ratio; the table is also written to bench/results.json. Nothing here is asserted: it measures.
//
// Database: BENCH_DATABASE_URL or TEST_DATABASE_URL (an admin connection; a database is created and
// dropped) or postgres://postgres@127.0.0.1:5432/postgres. Knobs: BENCH_BURST (2000 creates),
// BENCH_SECONDS (10 per autocannon phase), BENCH_SUSTAINED_SECONDS (120; 600 for the full figure),
// BENCH_ONLY=status,burst,idle,memory,startup,csv,scale,split,sustained.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { PgBoss } from 'pg-boss'

const root = path.resolve(import.meta.dirname, '..')
const admin = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const BURST = Number(process.env.BENCH_BURST ?? 2000)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
const SUSTAINED = Number(process.env.BENCH_SUSTAINED_SECONDS ?? 120)
const only = new Set((process.env.BENCH_ONLY ?? 'status,burst,idle,memory,startup,csv,scale,split,sustained').split(','))
const THREADS = Number(process.env.WORKER_THREADS ?? 2)

const pct = (values: number[], p: number) => {
  const s = [...values].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN
}
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
  return existsSync(compiled) ? [compiled] : [path.join(root, 'server', 'cli.ts')]
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

async function startInstance(url: string, media: string, env: Record<string, string> = {}): Promise<Instance> {
  const port = await freePort()
  const started = performance.now()
  const proc = spawn(process.execPath, [...cliCommand(), 'start'], {
    cwd: root,
    env: {
      PATH: process.env.PATH, HOME: process.env.HOME,
      NODE_ENV: 'production', DATABASE_URL: url, PORT: String(port), HOST: '127.0.0.1',
      SECRET_KEY: 'benchmark-secret-key-of-more-than-thirty-two-characters', ALLOWED_HOSTS: '127.0.0.1,localhost',
      FRONTEND_URL: `http://127.0.0.1:${port}`, EMAIL_BACKEND: 'log', ACCOUNT_EMAIL_VERIFICATION: 'none',
      MEDIA_ROOT: media, WORKER_THREADS: String(THREADS), LOG_LEVEL: 'warn',
      THROTTLE_REGISTRATION_PER_IP: '0/m',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  proc.stdout!.on('data', (d) => (out += d))
  proc.stderr!.on('data', (d) => (out += d))
  const base = `http://127.0.0.1:${port}`
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`Conveyor exited with ${proc.exitCode}:\n${out}`)
    const ok = await fetch(`${base}/readyz`).then((r) => r.ok, () => false)
    if (ok) break
    await sleep(10)
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

/** Proportional set size of a process (its share of shared pages), in MB. */
async function pssMb(pid: number): Promise<number> {
  const text = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8')
  return Number(/^Pss:\s+(\d+)/m.exec(text)?.[1] ?? NaN) / 1024
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

/** An open-loop burst: `n` creates from 20 keep-alive clients as fast as they are answered. */
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

/** Waits until every request of the run is finished; times from the database's own clock. */
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
    await sleep(20)
  }
}

interface CannonResult { requests: { average: number }; latency: { p99: number }; non2xx: number }
// autocannon ships no types.
const autocannon = (await import('autocannon' as string)).default as (options: object) => Promise<CannonResult>

async function cannon(url: string, headers: Record<string, string>, connections = 50) {
  const r = await autocannon({ url, headers, connections, duration: SECONDS, pipelining: 1 })
  return { rps: r.requests.average, p99: r.latency.p99, non2xx: r.non2xx }
}

/** The best pg-boss can do on this database: send() from 20 loops, no-op work with big batches. */
async function bossCeiling(url: string, n: number): Promise<number> {
  const boss = new PgBoss({ connectionString: url, schema: 'bench_ceiling', max: 10 })
  boss.on('error', () => {})
  await boss.start()
  await boss.createQueue('noop')
  let done = 0
  let last = 0
  const all = new Promise<void>((resolve) => {
    void boss.work('noop', { batchSize: 50, pollingIntervalSeconds: 0.5, localConcurrency: THREADS }, async (jobs) => {
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

// ------------------------------------------------------------------ the run

type Row = { figure: string; value: number; unit: string; ceiling: number | null; ceilingName: string; goal: string }

async function main() {
  const name = `conveyor_bench_${process.pid}`
  await adminQuery(`CREATE DATABASE "${name}"`)
  const url = withDb(name)
  const media = await mkdtemp(path.join(tmpdir(), 'conveyor-bench-'))
  const db = new pg.Pool({ connectionString: url, max: 4 })
  const rows: Row[] = []
  const add = (r: Row) => { rows.push(r); console.log(`# ${r.figure}: ${r.value.toFixed(1)} ${r.unit}${r.ceiling ? ` (ceiling ${r.ceiling.toFixed(1)}, ratio ${(r.value / r.ceiling).toFixed(2)})` : ''}`) }
  const started: Instance[] = []
  const launch = async (env: Record<string, string> = {}) => { const i = await startInstance(url, media, env); started.push(i); return i }
  const stop = async (i: Instance) => { const code = await i.stop(); started.splice(started.indexOf(i), 1); return code }
  try {
    console.log(`# migrating and starting ${cliCommand()[0]!.replace(root + '/', '')} (production, ${THREADS} threads)`)
    await stop(await launch()) // first start migrates and runs the setup
    let app = await launch()
    if (only.has('startup')) add({ figure: 'start-up to /readyz (migrated)', value: app.readyMs, unit: 'ms', ceiling: null, ceilingName: '', goal: '≤ 600 ms' })
    const key = await register(app.base, 'bench@example.com')
    const auth = { authorization: `Bearer ${key}` }

    if (only.has('memory')) {
      await sleep(2000) // let start-up garbage be collected
      add({ figure: `memory idle (PSS, ${THREADS} threads)`, value: await pssMb(app.proc.pid!), unit: 'MB', ceiling: null, ceilingName: '', goal: '≤ 110 MB' })
    }

    if (only.has('status')) {
      const id = await create(app.base, key, 'status target')
      await finished(db, [id])
      const ceilingProc = spawn(process.execPath, [path.join(root, 'bench', 'ceiling-server.ts')], { env: { ...process.env, DATABASE_URL: url }, stdio: ['ignore', 'pipe', 'inherit'] })
      const ceilingUrl = await new Promise<string>((resolve) => ceilingProc.stdout!.once('data', (d) => resolve(String(d).trim())))
      try {
        const bare = await cannon(`${ceilingUrl}/status/${id}/`, {})
        const ours = await cannon(`${app.base}/api/v1/text-stats/status/${id}/`, auth)
        add({ figure: 'authenticated status GET (50 connections)', value: ours.rps, unit: 'req/s', ceiling: bare.rps, ceilingName: 'bare Fastify + same PK query', goal: '≥ 0.9× ceiling' })
        add({ figure: '  its p99', value: ours.p99, unit: 'ms', ceiling: bare.p99, ceilingName: 'bare route p99', goal: '' })
      } finally { ceilingProc.kill() }
    }

    if (only.has('idle')) {
      const lat: number[] = []
      for (let i = 0; i < 110; i++) {
        const id = await create(app.base, key, `idle ${i}. A short text.`)
        for (;;) {
          const { rows: r } = await db.query<{ ms: number | null }>(`SELECT extract(epoch FROM finished_at - created_at) * 1000 AS ms FROM processing_requests WHERE id = $1 AND status = 'completed'`, [id])
          if (r[0]) { if (i >= 10) lat.push(Number(r[0].ms)); break }
          await sleep(5)
        }
      }
      add({ figure: 'idle create→completed p50 (database clock)', value: pct(lat, 50), unit: 'ms', ceiling: null, ceilingName: '', goal: '≤ 6 ms' })
      add({ figure: 'idle create→completed p99', value: pct(lat, 99), unit: 'ms', ceiling: null, ceilingName: '', goal: '≤ 15 ms' })
    }

    let createsAlone = NaN
    if (only.has('burst')) {
      // Creates alone: the same burst with no engine running (an API-only instance).
      const api = await launch({ ROLE: 'api' })
      await stop(app)
      const alone = await burst(api.base, key, BURST)
      createsAlone = BURST / alone.seconds
      await db.query(`UPDATE processing_requests SET status = 'cancelled' WHERE status = 'pending'`)
      await db.query(`DELETE FROM pgboss.job WHERE state = 'created'`)
      await stop(api)
      app = await launch()
      const b = await burst(app.base, key, BURST)
      const done = await finished(db, b.ids)
      const ceiling = await bossCeiling(url, BURST)
      add({ figure: `creates/s (burst of ${BURST}, 20 clients, engine running)`, value: BURST / b.seconds, unit: 'req/s', ceiling: createsAlone, ceilingName: 'creates alone (no engine)', goal: '≥ 1,800 req/s' })
      add({ figure: 'jobs end to end (first create → last completion)', value: done.completed / done.seconds, unit: 'jobs/s', ceiling: createsAlone, ceilingName: 'creates alone', goal: '≥ 1,000 jobs/s and ≥ 0.75× creates alone' })
      add({ figure: '  same, against raw pg-boss send + no-op work', value: done.completed / done.seconds, unit: 'jobs/s', ceiling, ceilingName: 'pg-boss send + no-op work', goal: '' })
    }

    if (only.has('memory')) {
      for (let i = 0; i < 6; i++) await finished(db, (await burst(app.base, key, BURST)).ids)
      await sleep(2000)
      const after = await pssMb(app.proc.pid!)
      const idle = rows.find((r) => r.figure.startsWith('memory idle'))!.value
      add({ figure: `memory after ${6 * BURST} more jobs (PSS)`, value: after, unit: 'MB', ceiling: idle, ceilingName: 'idle', goal: '≤ 1.2× idle' })
    }

    if (only.has('csv')) {
      const probe = async (n: number) => {
        const times: number[] = []
        for (let i = 0; i < n; i++) {
          const t0 = performance.now()
          await fetch(`${app.base}/api/v1/jobs/list/?page_size=1`, { headers: auth }).then((r) => r.arrayBuffer())
          times.push(performance.now() - t0)
          await sleep(10)
        }
        return pct(times, 99)
      }
      const idleP99 = await probe(200)
      const csv = Buffer.from(['a,b,c,d', ...Array.from({ length: 400_000 }, (_, i) => `${i},name ${i % 977},${(i * 7) % 1000 / 3},x${i % 13}`)].join('\n'))
      const ids: string[] = []
      for (let i = 0; i < THREADS; i++) {
        const form = new FormData()
        form.append('file', new Blob([csv], { type: 'text/csv' }), 'bench.csv')
        const res = await fetch(`${app.base}/api/v1/csv-profile/create/`, { method: 'POST', headers: auth, body: form })
        ids.push(((await res.json()) as { id: string }).id)
      }
      const busyP99 = await probe(200)
      await finished(db, ids)
      add({ figure: `API p99 while ${THREADS} threads profile CSVs`, value: busyP99, unit: 'ms', ceiling: idleP99, ceilingName: 'idle p99', goal: '≤ 2× idle' })
    }
    await stop(app)

    if (only.has('scale')) {
      const api = await launch({ ROLE: 'api' })
      const w1 = await launch({ ROLE: 'worker' })
      const one = await finished(db, (await burst(api.base, key, BURST)).ids)
      const w2 = await launch({ ROLE: 'worker' })
      const two = await finished(db, (await burst(api.base, key, BURST)).ids)
      add({ figure: 'jobs/s with two worker instances', value: two.completed / two.seconds, unit: 'jobs/s', ceiling: one.completed / one.seconds, ceilingName: 'one worker instance', goal: '> 1×' })
      await Promise.all([stop(w1), stop(w2), stop(api)])
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
      add({ figure: 'create→started, API and worker separate: first job', value: waits[0]!, unit: 'ms', ceiling: null, ceilingName: '', goal: '' })
      add({ figure: '  p50 once warm', value: pct(waits.slice(10), 50), unit: 'ms', ceiling: null, ceilingName: '', goal: '2–5 ms' })
      await Promise.all([stop(worker), stop(api)])
    }

    if (only.has('sustained')) {
      const inst = await launch()
      const minutes: { rate: number; pss: number }[] = []
      const end = performance.now() + SUSTAINED * 1000
      while (performance.now() < end) {
        const sliceEnd = Math.min(end, performance.now() + 30_000)
        let n = 0
        const t0 = performance.now()
        while (performance.now() < sliceEnd) { await finished(db, (await burst(inst.base, key, 200)).ids); n += 200 }
        minutes.push({ rate: n / ((performance.now() - t0) / 1000), pss: await pssMb(inst.proc.pid!) })
        console.log(`#   sustained slice ${minutes.length}: ${minutes.at(-1)!.rate.toFixed(0)} jobs/s, ${minutes.at(-1)!.pss.toFixed(1)} MB`)
      }
      const first = minutes[0]!
      const last = minutes.at(-1)!
      add({ figure: `sustained ${SUSTAINED} s: throughput, last slice`, value: last.rate, unit: 'jobs/s', ceiling: first.rate, ceilingName: 'first slice', goal: 'no decay (≈ 1×)' })
      add({ figure: `sustained ${SUSTAINED} s: memory, last slice`, value: last.pss, unit: 'MB', ceiling: first.pss, ceilingName: 'first slice', goal: 'no growth (≈ 1×)' })
      await stop(inst)
    }
  } finally {
    await Promise.all(started.map((i) => i.stop()))
    await db.end()
    await adminQuery(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).catch(() => {})
    await rm(media, { recursive: true, force: true })
  }

  const table = rows.map((r) => [r.figure, `${r.value.toFixed(r.value < 100 ? 1 : 0)} ${r.unit}`,
    r.ceiling ? `${r.ceiling.toFixed(r.ceiling < 100 ? 1 : 0)} (${r.ceilingName})` : '', r.ceiling ? (r.value / r.ceiling).toFixed(2) : '', r.goal])
  const head = ['figure', 'result', 'ceiling, same run', 'ratio', 'goal']
  const widths = head.map((_, i) => Math.max(...[head, ...table].map((r) => r[i]!.length)))
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`
  const machine = `${availableParallelism()} CPUs, Node ${process.version}, ${THREADS} worker threads, ${cliCommand()[0]!.endsWith('.js') ? 'compiled JavaScript' : 'TypeScript sources'}`
  console.log(`\n${machine}\n${[line(head), line(widths.map((w) => '-'.repeat(w))), ...table.map(line)].join('\n')}`)
  await writeFile(path.join(root, 'bench', 'results.json'), JSON.stringify({ at: new Date().toISOString(), machine, rows }, null, 2))
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
