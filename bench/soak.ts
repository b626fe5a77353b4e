// `npm run soak`: the real server (bench/soak-server.ts, production profile, its own fresh database)
// under bounded mixed load on loopback for SOAK_MINUTES (default 15): creates followed on their SSE
// streams, status polls and lists, cancels racing the engine, uploads (text and CSV), result reads,
// deletes, and a schedule ticking every minute. Each SOAK_SAMPLE_SECONDS (default 60) it samples the
// server's heap (after a full GC), RSS, open handles, worker threads, its database connections and
// the throughput; it prints the series, and exits 1 on a growth trend, a throughput decay, any 5xx,
// or any stalled request (not finished within SOAK_STALL_SECONDS of its creation, default 120).
// Not part of `npm test`. Database: TEST_DATABASE_URL (an admin connection) or the local PostgreSQL.
// SOAK_CLIENTS (default 6) concurrent clients, each pausing SOAK_PAUSE_MS (default 25) between operations.
import { fork } from 'node:child_process'
import { randomInt } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import path from 'node:path'
import { sql } from 'kysely'
import { createDb } from '../db/index.ts'
import { createTemplate, dropDatabase, withDatabase } from '../test/setup/database.ts'

const minutes = Number(process.env.SOAK_MINUTES ?? 15)
const sampleSeconds = Number(process.env.SOAK_SAMPLE_SECONDS ?? 60)
const stallSeconds = Number(process.env.SOAK_STALL_SECONDS ?? 120)
const clients = Number(process.env.SOAK_CLIENTS ?? 6)
const pauseMs = Number(process.env.SOAK_PAUSE_MS ?? 25)
const admin = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const TERMINAL = new Set(['completed', 'failed', 'cancelled'])
const ADMIN = { email: 'soak@example.com', password: 'a long soak passphrase 42' }

interface ServerSample { rss: number; heapUsed: number; handles: number; byType: Record<string, number>; threads: number }
interface Sample extends ServerSample { minute: number; connections: number; completed: number; ops: number; p95: number; errors5xx: number; load: number }

// ------------------------------------------------------------------ the load

const counters = { ops: 0, errors5xx: 0, other4xx: 0, latencies: [] as number[], statuses: {} as Record<string, number> }
const tracked = new Map<string, { feature: string; createdAt: number; done: boolean }>()
const stalled = new Set<string>()
const fiveXx: string[] = []
const fourXx: Record<string, number> = {}

let base = ''
let headers: Record<string, string> = {}

async function call(method: string, url: string, body?: unknown, extra: Record<string, string> = {}): Promise<{ status: number; data: any }> {
  const init: RequestInit = { method, headers: { ...headers, ...extra } }
  if (body instanceof FormData) init.body = body
  else if (body !== undefined) {
    init.body = JSON.stringify(body)
    ;(init.headers as Record<string, string>)['content-type'] = 'application/json'
  }
  const res = await fetch(`${base}${url}`, { ...init, signal: AbortSignal.timeout(30_000) })
  const text = await res.text()
  counters.ops++
  if (res.status >= 500) {
    counters.errors5xx++
    fiveXx.push(`${method} ${url} → ${res.status} ${text.slice(0, 200)}`)
  } else if (res.status >= 400 && res.status !== 409) {
    counters.other4xx++
    const route = `${method} ${url.replace(/[0-9a-f-]{36}/g, ':id').replace(/\?.*/, '')} ${res.status}`
    fourXx[route] = (fourXx[route] ?? 0) + 1
  }
  let data: unknown
  try { data = JSON.parse(text) } catch { data = text }
  return { status: res.status, data }
}

function track(feature: string, id: string): void {
  tracked.set(id, { feature, createdAt: Date.now(), done: false })
}
function finished(id: string, status: string): void {
  const t = tracked.get(id)
  if (!t || t.done) return
  t.done = true
  counters.statuses[status] = (counters.statuses[status] ?? 0) + 1
  counters.latencies.push(Date.now() - t.createdAt)
}

/** Follows a request's SSE stream to its terminal status; false when it did not end in time. */
async function followEvents(feature: string, id: string): Promise<boolean> {
  const deadline = tracked.get(id)!.createdAt + stallSeconds * 1000
  try {
    const res = await fetch(`${base}/api/v1/${feature}/events/${id}/`, { headers, signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())) })
    counters.ops++
    if (res.status >= 500) { counters.errors5xx++; fiveXx.push(`GET events/${id} → ${res.status}`) }
    let text = ''
    let last = ''
    for await (const chunk of res.body!) {
      text += Buffer.from(chunk).toString()
      for (const m of text.matchAll(/"status":"(\w+)"/g)) last = m[1]!
      if (text.length > 4096) text = text.slice(-1024)
      if (TERMINAL.has(last)) break
    }
    if (TERMINAL.has(last)) { finished(id, last); return true }
  } catch { /* timed out: polled below */ }
  return pollStatus(feature, id)
}

/** Polls status until terminal or the stall deadline. */
async function pollStatus(feature: string, id: string): Promise<boolean> {
  const deadline = tracked.get(id)!.createdAt + stallSeconds * 1000
  for (;;) {
    const r = await call('GET', `/api/v1/${feature}/status/${id}/`)
    if (r.status === 404) { finished(id, 'deleted'); return true }
    if (TERMINAL.has(r.data?.status)) { finished(id, r.data.status); return true }
    if (Date.now() > deadline) { stalled.add(id); return false }
    await new Promise((res) => setTimeout(res, 200))
  }
}

function textOf(n: number): string {
  const words = ['alpha', 'beta', 'gamma', 'delta', 'conveyor', 'thread', 'queue', 'soak', 'minute', 'stream']
  return Array.from({ length: n }, (_, i) => words[(i * 7 + n) % words.length]).join(' ') + '. The end.'
}

function csvOf(rows: number): string {
  const lines = ['id,name,amount,active']
  for (let i = 0; i < rows; i++) lines.push(`${i},name ${i % 50},${(i * 37) % 1000},${i % 3 === 0}`)
  return lines.join('\n') + '\n'
}

async function create(feature: string, body: unknown): Promise<string | null> {
  const r = await call('POST', `/api/v1/${feature}/create/`, body)
  if (r.status !== 202 || !r.data?.id) return null
  track(feature, r.data.id)
  return r.data.id as string
}

const recentDone: { feature: string; id: string }[] = []

async function operation(): Promise<void> {
  const roll = randomInt(100)
  if (roll < 35) {
    const id = await create('text-stats', { text: textOf(20 + randomInt(400)) })
    if (id && await followEvents('text-stats', id)) recentDone.push({ feature: 'text-stats', id })
  } else if (roll < 47) {
    // A cancel racing the engine: cancelled, or 409 when the job already finished.
    const id = await create('text-stats', { text: textOf(50) })
    if (!id) return
    await call('POST', `/api/v1/text-stats/cancel/${id}/`)
    await pollStatus('text-stats', id)
  } else if (roll < 55) {
    const form = new FormData()
    form.append('file', new Blob([textOf(2000)], { type: 'text/plain' }), 'upload.txt')
    const r = await call('POST', '/api/v1/text-stats/create/', form)
    if (r.status === 202) { track('text-stats', r.data.id); if (await pollStatus('text-stats', r.data.id)) recentDone.push({ feature: 'text-stats', id: r.data.id }) }
  } else if (roll < 61) {
    const form = new FormData()
    form.append('file', new Blob([csvOf(500 + randomInt(3000))], { type: 'text/csv' }), 'data.csv')
    const r = await call('POST', '/api/v1/csv-profile/create/', form)
    if (r.status === 202) {
      track('csv-profile', r.data.id)
      if (await followEvents('csv-profile', r.data.id)) {
        const res = await call('GET', `/api/v1/csv-profile/results/${r.data.id}/`)
        for (const f of (res.data?.files ?? []) as { name: string }[]) await call('GET', `/api/v1/csv-profile/download-file/${r.data.id}/${f.name}/`)
        recentDone.push({ feature: 'csv-profile', id: r.data.id })
      }
    }
  } else if (roll < 80) {
    await call('GET', '/api/v1/text-stats/list/?page_size=20')
    const done = recentDone[recentDone.length - 1 - randomInt(Math.min(20, recentDone.length || 1))]
    if (done) await call('GET', `/api/v1/${done.feature}/status/${done.id}/`)
  } else if (roll < 88) {
    const done = recentDone[randomInt(recentDone.length || 1)]
    if (done) await call('GET', `/api/v1/${done.feature}/results/${done.id}/`)
  } else if (roll < 93) {
    const done = recentDone.splice(randomInt(recentDone.length || 1), 1)[0]
    if (done) await call('DELETE', `/api/v1/${done.feature}/delete/${done.id}/`)
  } else {
    await call('GET', '/readyz')
    await call('GET', '/api/v1/admin/jobs/?page_size=10')
  }
  if (recentDone.length > 500) recentDone.splice(0, recentDone.length - 500)
}

// ------------------------------------------------------------------ analysis

const mb = (b: number) => (b / 1048576).toFixed(1)
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)
function slope(ys: number[]): number {
  const n = ys.length
  const mx = (n - 1) / 2
  const my = mean(ys)
  let num = 0
  let den = 0
  ys.forEach((y, x) => { num += (x - mx) * (y - my); den += (x - mx) ** 2 })
  return den === 0 ? 0 : num / den
}

/** Growth and decay verdicts over the samples after the warm-up (the first fifth, at least one sample). */
function verdicts(samples: Sample[]): string[] {
  const problems: string[] = []
  const warm = samples.slice(Math.max(1, Math.floor(samples.length / 5)))
  if (warm.length < 4) return problems
  const third = Math.max(1, Math.floor(warm.length / 3))
  const first = warm.slice(0, third)
  const last = warm.slice(-third)
  const grows = (name: string, pick: (s: Sample) => number, absolute: number, relative: number, unit: (x: number) => string) => {
    const ys = warm.map(pick)
    const trend = slope(ys) * (ys.length - 1)
    const rise = mean(last.map(pick)) - mean(first.map(pick))
    // A leak grows steadily: both the fitted trend and the late-minus-early difference must pass the bar.
    const bar = Math.max(absolute, mean(first.map(pick)) * relative)
    if (trend > bar && rise > bar) problems.push(`${name} grows: +${unit(rise)} from the first to the last third (trend +${unit(trend)}, allowed ${unit(bar)})`)
  }
  grows('heap after GC', (s) => s.heapUsed, 8 * 1048576, 0.2, (x) => `${mb(x)} MB`)
  grows('RSS', (s) => s.rss, 48 * 1048576, 0.35, (x) => `${mb(x)} MB`)
  grows('open handles', (s) => s.handles, 10, 0.25, (x) => x.toFixed(1))
  grows('database connections', (s) => s.connections, 3, 0.25, (x) => x.toFixed(1))
  const early = mean(first.map((s) => s.completed))
  const late = mean(last.map((s) => s.completed))
  if (early > 0 && late < early * 0.5) problems.push(`throughput decays: ${early.toFixed(0)} → ${late.toFixed(0)} jobs finished per sample`)
  return problems
}

// ------------------------------------------------------------------ main

async function main(): Promise<number> {
  const dbName = `conveyor_soak_${process.pid}`
  await createTemplate(admin, dbName)
  const url = withDatabase(admin, dbName)
  const media = await mkdtemp(path.join(tmpdir(), 'conveyor-soak-'))
  const db = createDb(url, { max: 2, applicationName: 'conveyor-soak-probe' })
  const server = fork(path.join(import.meta.dirname, 'soak-server.ts'), [], {
    execArgv: ['--expose-gc'],
    env: {
      ...process.env, NODE_ENV: 'production', DATABASE_URL: url, SECRET_KEY: 'soak-secret-key-long-enough-for-production-use',
      ALLOWED_HOSTS: '*', HOST: '127.0.0.1', PORT: '0', MEDIA_ROOT: media, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password, SCHEDULER_INTERVAL_SECONDS: '5',
      WORKER_THREADS: process.env.WORKER_THREADS ?? '2',
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const exited = new Promise<number | null>((resolve) => server.once('exit', (code) => resolve(code)))
  const ask = () => new Promise<ServerSample>((resolve) => {
    server.once('message', (m: { type: string } & ServerSample) => resolve(m))
    server.send({ type: 'sample' })
  })
  const problems: string[] = []
  const samples: Sample[] = []
  try {
    base = await new Promise<string>((resolve, reject) => {
      server.once('message', (m: { type: string; url: string }) => resolve(m.url))
      void exited.then((code) => reject(new Error(`the server exited with ${code} before it was ready`)))
    })
    const login = await call('POST', '/api/v1/auth/login/', ADMIN)
    headers = { authorization: `Bearer ${login.data.key}` }
    const schedule = await call('POST', '/api/v1/admin/schedules/', {
      name: 'soak tick', feature: 'text-stats', cron: '* * * * *', timezone: 'UTC', input: { text: 'a scheduled text' }, enabled: true,
    })
    if (schedule.status !== 201) problems.push(`could not create the schedule: ${schedule.status} ${JSON.stringify(schedule.data)}`)
    console.log(`# soak: ${minutes} min, ${clients} clients, sample every ${sampleSeconds} s, ${availableParallelism()} CPUs, load average ${loadavg()[0]!.toFixed(1)} at start, server ${base}`)

    const stopAt = Date.now() + minutes * 60_000
    const loops = Array.from({ length: clients }, async () => {
      while (Date.now() < stopAt) {
        await operation().catch((err: Error) => { problems.push(`client error: ${err.message}`) })
        await new Promise((r) => setTimeout(r, pauseMs))
      }
    })
    const header = 'min  heap MB  rss MB  handles  threads  db conns  jobs done  ops  p95 ms  5xx  load'
    console.log(header)
    let windowStart = new Date()
    for (let i = 1; Date.now() < stopAt - 1000; i++) {
      await new Promise((r) => setTimeout(r, Math.min(sampleSeconds * 1000, stopAt - Date.now())))
      const s = await ask()
      const windowEnd = new Date()
      const { rows: [conns] } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name <> 'conveyor-soak-probe'`.execute(db)
      const { rows: [done] } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM processing_requests WHERE finished_at >= ${windowStart} AND finished_at < ${windowEnd}`.execute(db)
      windowStart = windowEnd
      const lat = counters.latencies.splice(0).sort((a, b) => a - b)
      const sample: Sample = { ...s, minute: (i * sampleSeconds) / 60, connections: conns!.n, completed: done!.n, ops: counters.ops, p95: lat[Math.floor(lat.length * 0.95)] ?? NaN, errors5xx: counters.errors5xx, load: loadavg()[0]! }
      counters.ops = 0
      samples.push(sample)
      console.log([sample.minute.toFixed(1).padStart(4), mb(s.heapUsed).padStart(7), mb(s.rss).padStart(7), String(s.handles).padStart(8), String(s.threads).padStart(8),
        String(sample.connections).padStart(9), String(sample.completed).padStart(10), String(sample.ops).padStart(5), String(Math.round(sample.p95)).padStart(7),
        String(sample.errors5xx).padStart(4), sample.load.toFixed(1).padStart(5)].join(' '))
    }
    await Promise.all(loops)

    // Drain: everything created must finish; then the database is asked directly.
    const drainUntil = Date.now() + stallSeconds * 1000
    let unfinished: { id: string; status: string }[] = []
    for (;;) {
      unfinished = await db.selectFrom('processing_requests').select(['id', 'status']).where('status', 'in', ['pending', 'processing']).execute()
      if (unfinished.length === 0 || Date.now() > drainUntil) break
      await new Promise((r) => setTimeout(r, 500))
    }
    for (const r of unfinished) stalled.add(r.id)
    const { rows: [ticks] } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM processing_requests WHERE schedule_id IS NOT NULL`.execute(db)
    const lastSample = samples.at(-1)
    const byType = lastSample ? Object.entries(lastSample.byType).map(([k, v]) => `${k} ${v}`).join(', ') : ''
    console.log(`# requests created and followed: ${tracked.size}; outcomes: ${JSON.stringify(counters.statuses)}; schedule ticks: ${ticks!.n}; 4xx other than 409: ${counters.other4xx} ${JSON.stringify(fourXx)}`)
    console.log(`# open handles at the end by type: ${byType}`)
    if (counters.errors5xx > 0) problems.push(`${counters.errors5xx} responses were 5xx, e.g. ${fiveXx.slice(0, 3).join(' | ')}`)
    if (stalled.size > 0) problems.push(`${stalled.size} requests stalled (not finished within ${stallSeconds} s): ${[...stalled].slice(0, 5).join(', ')}`)
    if (minutes >= 1 && ticks!.n === 0) problems.push('the schedule never ticked')
    if (samples.length < 4) console.log('# fewer than four samples after the warm-up would be needed for trends: not judged')
    problems.push(...verdicts(samples))
  } finally {
    server.send({ type: 'stop' })
    const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000))])
    if (code === 'timeout') { server.kill('SIGKILL'); problems.push('the server did not stop within 30 s') } else if (code !== 0) problems.push(`the server exited with ${code}`)
    await db.destroy()
    await dropDatabase(admin, dbName).catch(() => {})
    await rm(media, { recursive: true, force: true })
  }
  for (const p of problems) console.log(`FAIL ${p}`)
  console.log(problems.length === 0 ? `soak passed: ${samples.length} samples, no growth, no decay, no 5xx, nothing stalled` : `soak FAILED (${problems.length} problems)`)
  return problems.length === 0 ? 0 : 1
}

main().then((code) => { process.exitCode = code }, (err) => {
  console.error(err)
  process.exitCode = 1
})
