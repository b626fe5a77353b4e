// `npm run bench:jobs`: the real app and engine on a real port and a fresh database, measured over
// HTTP: idle create→completed latency, throughput of 20 clients, creates alone, and the API's
// event-loop delay while every thread profiles a 50 MB CSV. Prints a table; asserts nothing.
// The clients run in a worker thread of their own, so they do not share the API's event loop.
// Database: TEST_DATABASE_URL (an admin connection) or postgres://postgres@127.0.0.1:5432/postgres.
// BENCH_SECONDS (default 10) per timed phase; BENCH_ONLY=latency,clients,csv,creates runs a subset.
import { createWriteStream } from 'node:fs'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import path from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads'

// Nearest rank: of 100 values, p99 is the 99th smallest.
const pct = (sorted: number[], p: number) => sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN
const ms = (x: number) => `${x.toFixed(1)} ms`

interface ClientSetup { base: string; token: string; seconds: number }
type Command = { phase: 'latency' | 'clients' | 'creates' | 'probe'; id?: string } | { phase: 'stop' }

// ---------------------------------------------------------------- client side (worker thread)

/** Reads a request's SSE stream until its terminal status. */
async function untilDone(base: string, headers: Record<string, string>, feature: string, id: string): Promise<string> {
  const res = await fetch(`${base}/api/v1/${feature}/events/${id}/`, { headers })
  let text = ''
  for await (const chunk of res.body!) text += Buffer.from(chunk).toString()
  return /"status":"(completed|failed|cancelled)"/.exec(text)?.[1] ?? 'unknown'
}

async function client({ base, token, seconds }: ClientSetup): Promise<void> {
  const headers = { authorization: `Bearer ${token}` }
  const json = { ...headers, 'content-type': 'application/json' }
  const create = async (text: string) => {
    const res = await fetch(`${base}/api/v1/text-stats/create/`, { method: 'POST', headers: json, body: JSON.stringify({ text }) })
    return ((await res.json()) as { id: string }).id
  }
  let probing = false
  parentPort!.on('message', async (command: Command) => {
    if (command.phase === 'latency') {
      for (let i = 0; i < 30; i++) await untilDone(base, headers, 'text-stats', await create(`warm up ${i}`))
      const latencies: number[] = []
      const ids: string[] = []
      for (let i = 0; i < 300; i++) {
        const t0 = performance.now()
        const id = await create(`The quick brown fox ${i}. Jumps over the lazy dog!`)
        await untilDone(base, headers, 'text-stats', id)
        latencies.push(performance.now() - t0)
        ids.push(id)
      }
      parentPort!.postMessage({ latencies, ids })
    } else if (command.phase === 'clients') {
      let completed = 0
      const start = performance.now()
      const stopAt = start + seconds * 1000
      await Promise.all(Array.from({ length: 20 }, async (_, c) => {
        for (let i = 0; performance.now() < stopAt; i++) {
          if ((await untilDone(base, headers, 'text-stats', await create(`client ${c} text ${i}. Some words here.`))) === 'completed') completed++
        }
      }))
      parentPort!.postMessage({ completed, seconds: (performance.now() - start) / 1000 })
    } else if (command.phase === 'creates') {
      const autocannon = (await import('autocannon' as string)).default
      const options = {
        url: `${base}/api/v1/text-stats/create/`, method: 'POST', headers: json, body: JSON.stringify({ text: 'just a create' }),
        connections: 20, duration: seconds,
      }
      // Inside a worker thread autocannon hands back its raw result: aggregate it as its main thread would.
      const raw = await autocannon(options)
      const result = autocannon.aggregateResult([raw], options)
      parentPort!.postMessage({ total: raw.totalCompletedRequests, average: raw.totalCompletedRequests / raw.duration, non2xx: result.non2xx, p50: result.latency.p50, p99: result.latency.p99 })
    } else if (command.phase === 'probe') {
      // Status requests every 20 ms while the CSVs are profiled: how the API answers meanwhile.
      probing = true
      const times: number[] = []
      while (probing) {
        const t0 = performance.now()
        await fetch(`${base}/api/v1/csv-profile/status/${command.id}/`, { headers }).then((r) => r.arrayBuffer())
        times.push(performance.now() - t0)
        await new Promise((r) => setTimeout(r, 20))
      }
      parentPort!.postMessage({ times })
    } else if (command.phase === 'stop') {
      probing = false
    }
  })
}

// ---------------------------------------------------------------- server side (main thread)

async function writeCsv(file: string, bytes: number): Promise<number> {
  const out = createWriteStream(file)
  out.write('id,name,city,amount,ratio,active,joined,note\n')
  let size = 0
  for (let i = 0; size < bytes;) {
    const lines: string[] = []
    for (let j = 0; j < 1000; j++, i++) {
      lines.push(`${i},"Person ${i % 5000}",City ${i % 97},${(i * 37) % 100000},${((i % 1000) / 7).toFixed(4)},${i % 3 === 0},2024-${String((i % 12) + 1).padStart(2, '0')}-${String((i % 28) + 1).padStart(2, '0')},"note, with comma ${i % 11}"`)
    }
    const chunk = lines.join('\n') + '\n'
    size += Buffer.byteLength(chunk)
    if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()))
  }
  await new Promise<void>((r) => out.end(() => r()))
  return (await stat(file)).size
}

/** CPU seconds used so far by this process (server + client thread) and by the database's backends (local PostgreSQL only). */
async function cpuNow(db: { selectFrom: any }): Promise<{ node: number; pg: number }> {
  const node = (process.cpuUsage().user + process.cpuUsage().system) / 1e6
  let pg = 0
  try {
    const { sql } = await import('kysely')
    const { rows } = await sql<{ pid: number }>`SELECT pid FROM pg_stat_activity WHERE datname = current_database()`.execute(db as never)
    for (const { pid } of rows) {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (f.length > 12) pg += (Number(f[11]) + Number(f[12])) / 100
    }
  } catch { pg = NaN }
  return { node, pg }
}
const cpuPer = (a: { node: number; pg: number }, b: { node: number; pg: number }, n: number) =>
  `CPU per op: node ${((b.node - a.node) * 1000 / n).toFixed(2)} ms, postgres ${((b.pg - a.pg) * 1000 / n).toFixed(2)} ms`

async function main(): Promise<void> {
  const { buildApp } = await import('../server/app.ts')
  const { createSession } = await import('../server/accounts/sessions.ts')
  const { createUser } = await import('../server/accounts/users.ts')
  const { loadConfig, projectRoot } = await import('../server/config.ts')
  const { createLogger } = await import('../server/logger.ts')
  const { openServices } = await import('../server/services.ts')
  const { createTemplate, dropDatabase, withDatabase } = await import('../test/setup/database.ts')
  const { startEngine } = await import('../worker/index.ts')
  const { engineDeps } = await import('../server/start.ts')

  const admin = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
  const seconds = Number(process.env.BENCH_SECONDS ?? 10)
  const only = new Set((process.env.BENCH_ONLY ?? 'latency,clients,csv,creates').split(','))
  const dbName = `conveyor_bench_${process.pid}`
  console.log(`# preparing database ${dbName}`)
  await createTemplate(admin, dbName)
  const url = withDatabase(admin, dbName)
  const media = await mkdtemp(path.join(tmpdir(), 'conveyor-bench-'))
  const config = loadConfig({
    NODE_ENV: 'production', DATABASE_URL: url, SECRET_KEY: 'bench-secret-key-long-enough-for-production-use', ALLOWED_HOSTS: '127.0.0.1,localhost', FRONTEND_URL: 'http://127.0.0.1', EMAIL_BACKEND: 'log',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', MEDIA_ROOT: media, ...(process.env.WORKER_THREADS ? { WORKER_THREADS: process.env.WORKER_THREADS } : {}),
  }, projectRoot)
  const services = await openServices(config, createLogger(config), url)
  const app = await buildApp(services)
  let engine: Awaited<ReturnType<typeof startEngine>> | null = await startEngine(engineDeps(services))
  const base = await app.listen({ host: '127.0.0.1', port: 0 })
  const user = await createUser(services.db, { email: 'bench@example.com', password: 'a long enough passphrase', emailVerified: true })
  const token = app.issueToken(await createSession(services.db, user.id, 3600))
  const headers = { authorization: `Bearer ${token}` }
  const worker = new Worker(new URL(import.meta.url), { workerData: { base, token, seconds } satisfies ClientSetup })
  const ask = <T>(command: Command) => new Promise<T>((resolve) => { worker.once('message', resolve); worker.postMessage(command) })
  const rows: [string, string, string, string][] = []

  try {
    if (only.has('latency')) {
      console.log('# 1. idle latency: one request at a time, create → completed seen on its SSE stream')
      const { latencies, ids } = await ask<{ latencies: number[]; ids: string[] }>({ phase: 'latency' })
      latencies.sort((a, b) => a - b)
      const times = await services.db.selectFrom('processing_requests').select(['created_at', 'started_at', 'finished_at']).where('id', 'in', ids).execute()
      const server = times.map((r) => r.finished_at!.getTime() - r.created_at.getTime()).sort((a, b) => a - b)
      const queued = times.map((r) => r.started_at!.getTime() - r.created_at.getTime()).sort((a, b) => a - b)
      const ran = times.map((r) => r.finished_at!.getTime() - r.started_at!.getTime()).sort((a, b) => a - b)
      rows.push(['idle create→completed over HTTP, p50 / p95', `${ms(pct(latencies, 50))} / ${ms(pct(latencies, 95))}`, '≤ 8 / ≤ 15 ms', '13.6 / 19.7 ms'])
      rows.push(['  same, in the database (created_at→finished_at)', `${ms(pct(server, 50))} / ${ms(pct(server, 95))}`, '', ''])
      rows.push(['    of which created_at→started_at, p50', ms(pct(queued, 50)), '', ''])
      rows.push(['    of which started_at→finished_at, p50', ms(pct(ran, 50)), '', ''])
    }

    if (only.has('clients')) {
      console.log(`# 2. 20 concurrent clients, each: create, wait for completed, repeat (${seconds} s)`)
      const c0 = await cpuNow(services.db)
      const r = await ask<{ completed: number; seconds: number }>({ phase: 'clients' })
      const c1 = await cpuNow(services.db)
      rows.push(['text-stats completed/s, 20 concurrent clients', `${(r.completed / r.seconds).toFixed(0)}/s`, '≥ 400/s', '131/s'])
      rows.push(['  ' + cpuPer(c0, c1, r.completed), '', '', ''])
    }

    if (only.has('csv')) {
      console.log('# 3. csv-profile of a 50 MB CSV on every thread')
      const csv = path.join(media, 'bench.csv')
      const size = await writeCsv(csv, 50 * 1024 * 1024)
      const bytes = await readFile(csv)
      const ids: string[] = []
      for (let i = 0; i < config.workerThreads; i++) {
        const form = new FormData()
        form.append('file', new Blob([bytes], { type: 'text/csv' }), 'bench.csv')
        const res = await fetch(`${base}/api/v1/csv-profile/create/`, { method: 'POST', headers, body: form })
        ids.push(((await res.json()) as { id: string }).id)
      }
      // Sampled every 1 ms; the figures include that 1 ms (an idle loop reads about 1.1 ms).
      const histogram = monitorEventLoopDelay({ resolution: 1 })
      histogram.enable()
      const probe = ask<{ times: number[] }>({ phase: 'probe', id: ids[0]! })
      const outcomes = await Promise.all(ids.map((id) => untilDone(base, headers, 'csv-profile', id)))
      histogram.disable()
      worker.postMessage({ phase: 'stop' })
      const times = (await probe).times.sort((a, b) => a - b)
      const runs = await services.db.selectFrom('processing_requests').select(['started_at', 'finished_at']).where('id', 'in', ids).execute()
      const longest = Math.max(...runs.map((r) => (r.finished_at!.getTime() - r.started_at!.getTime()) / 1000))
      rows.push([`event-loop delay p99 / max (1 ms sampling), ${ids.length} threads profiling ${(size / 1048576).toFixed(0)} MB CSVs`, `${ms(histogram.percentile(99) / 1e6)} / ${ms(histogram.max / 1e6)}`, '', ''])
      rows.push(['  status/ latency meanwhile, p50 / p99', `${ms(pct(times, 50))} / ${ms(pct(times, 99))}`, '', ''])
      rows.push(['  csv-profile time per file', `${longest.toFixed(1)} s, ${(size / 1048576 / longest).toFixed(1)} MB/s (${[...new Set(outcomes)]})`, '', ''])
    }

    if (only.has('creates')) {
      console.log(`# 4. creates alone, engine stopped, autocannon 20 connections (${seconds} s)`)
      await engine.stop()
      engine = null
      const c0 = await cpuNow(services.db)
      const r = await ask<{ average: number; non2xx: number; p50: number; p99: number; total: number }>({ phase: 'creates' })
      const c1 = await cpuNow(services.db)
      rows.push(['creates/s (engine stopped), 20 connections', `${Math.round(r.average)}/s, p50 ${r.p50} ms, p99 ${r.p99} ms (${r.non2xx} non-2xx)`, '≥ 1,000/s', ''])
      rows.push(['  ' + cpuPer(c0, c1, r.total), '', '', ''])
    }
  } finally {
    await worker.terminate()
    await engine?.stop()
    await app.close()
    await services.close()
    await dropDatabase(admin, dbName).catch(() => {})
    await rm(media, { recursive: true, force: true })
  }

  const head = ['measure', 'result', 'target', 'Celery original']
  const widths = head.map((_, i) => Math.max(...[head, ...rows].map((r) => r[i]!.length)))
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`
  console.log(`\nConveyor ${config.version}: ${config.workerThreads} worker threads, ${availableParallelism()} CPUs, Node ${process.version}`)
  console.log([line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n'))
}

if (isMainThread) {
  main().catch((err) => {
    console.error(err)
    process.exitCode = 1
  })
} else {
  void client(workerData as ClientSetup)
}
