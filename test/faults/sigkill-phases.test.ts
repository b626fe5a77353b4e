// SIGKILL at each phase: an engine process is killed while jobs wait inside validate, process, save,
// cleanup, and right after a completion committed (before the attempt's folder is removed), with more
// requests queued behind them (once, or FAULT_KILL_ROUNDS times); an engine started afterwards must bring every
// request to `completed` per its retry policy: none stuck, none lost, no phase run again after its
// attempt committed, exactly the final attempt's result and output file, and no file left behind.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import t from 'tap'
import { buildJobs, client, TEST_FEATURES, until } from '../jobs/support.ts'
import { allSettled, filesUnder } from './support.ts'

const FAULT_FEATURES = path.join(import.meta.dirname, 'fixtures', 'fault-features.ts')
const ENGINE = path.join(import.meta.dirname, 'fixtures', 'engine.ts')
const PHASES = ['validate', 'process', 'save', 'cleanup', 'commit'] as const
const PER_PHASE = 2 // per kill: jobs waiting inside each phase when the process dies
const QUEUED = 6 // per kill: requests that run straight through, queued behind them
const THREADS = PHASES.length * PER_PHASE
// Kills (each with its own batch; a retry running at the second kill dies too). One keeps the file
// near 50 s on a 2-core machine at load 30; raise it for a longer hunt.
const ROUNDS = Number(process.env.FAULT_KILL_ROUNDS ?? 1)

t.test('SIGKILLed in every phase: every request completes once, with one result and no stray file', async (t) => {
  const env = { FEATURE_MODULES: `${TEST_FEATURES},${FAULT_FEATURES}`, JOB_HEARTBEAT_SECONDS: '10' }
  const built = await buildJobs(t, { env })
  const signals = await mkdtemp(path.join(os.tmpdir(), 'conveyor-signals-'))
  t.teardown(() => rm(signals, { recursive: true, force: true }))
  const c = await client(built)
  const engines: ChildProcess[] = []
  t.teardown(() => { for (const e of engines) if (e.exitCode === null && e.signalCode === null) e.kill('SIGKILL') })

  async function startEngineProcess(): Promise<ChildProcess> {
    const child = spawn(process.execPath, [ENGINE], {
      env: { ...process.env, ...env, DATABASE_URL: built.url, MEDIA_ROOT: built.media, WORKER_THREADS: String(THREADS), LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    engines.push(child)
    const lines = createInterface({ input: child.stdout! })
    await Promise.race([once(lines, 'line'), once(child, 'exit').then(() => { throw new Error('the engine process exited at start') })])
    return child
  }
  const markers = async () => (await readdir(signals)).filter((f) => PHASES.some((p) => f.endsWith(`.${p}`)))

  const requests: { id: string; stop: string }[] = []
  async function createBatch(): Promise<void> {
    for (const stop of PHASES) for (let i = 0; i < PER_PHASE; i++) requests.push({ id: (await c.create('fault-phase', { stop_in: stop, signal_dir: signals })).data.id, stop })
    for (let i = 0; i < QUEUED; i++) requests.push({ id: (await c.create('fault-phase', { stop_in: 'none', signal_dir: signals })).data.id, stop: 'none' })
  }

  let kills = 0
  const started = Date.now()
  for (let round = 1; round <= ROUNDS; round++) {
    await createBatch()
    const engine = await startEngineProcess()
    // Wait until this round's jobs all sit in their phase (each announces it with a file).
    await until(markers, (m) => m.length === round * THREADS, { timeoutMs: 40_000, intervalMs: 50 })
    engine.kill('SIGKILL')
    await once(engine, 'exit')
    kills++
    t.comment(`kill ${round} at ${((Date.now() - started) / 1000).toFixed(1)} s`)
  }
  const inPhase = (await markers()).length

  // The last engine: recovers the killed attempts once their heartbeat lapses, and runs the rest.
  const last = await startEngineProcess()
  const end = await allSettled(built.services.db, 50_000)
  t.comment(`settled at ${((Date.now() - started) / 1000).toFixed(1)} s`)
  last.kill('SIGTERM')
  t.match(await once(last, 'exit'), [0], 'the last engine stops cleanly')
  t.same(end.stuck, [], 'no request left pending or processing')
  t.same(end.liveJobs, [], 'no finished request with a live pg-boss job')
  t.same(end.missingResults, [], 'every completed request has its result')

  const rows = await built.services.db.selectFrom('processing_requests').leftJoin('processing_results', 'request_id', 'id')
    .select(['id', 'status', 'attempts', 'data', 'files']).execute()
  const byId = new Map(rows.map((r) => [r.id, r]))
  const problems: string[] = []
  let rerun = 0
  for (const { id, stop } of requests) {
    const row = byId.get(id)
    if (!row) { problems.push(`${id} (${stop}) lost`); continue }
    // Killed before its commit: attempt 1 is lost and attempt 2 completes. Killed after it: done at 1.
    // (A retry may itself be running when the second kill comes: then attempt 3, the policy's last.)
    const allowed = stop === 'none' ? [1, 2] : stop === 'commit' ? [1] : [2, 3]
    if (row.status !== 'completed') problems.push(`${id} (${stop}) ${row.status}`)
    if (!allowed.includes(row.attempts)) problems.push(`${id} (${stop}) took ${row.attempts} attempts, expected ${allowed.join(' or ')}`)
    if ((row.data as { attempt?: number } | null)?.attempt !== row.attempts) problems.push(`${id} (${stop}) result is not its final attempt's`)
    const out = await readFile(path.join(built.media, id, 'output', 'out.txt'), 'utf8').catch(() => 'missing')
    if (out !== `attempt ${row.attempts}\n`) problems.push(`${id} (${stop}) out.txt: ${out}`)
    // The phases each attempt ran: no attempt after the one that committed.
    const log = (await readFile(path.join(signals, `${id}.log`), 'utf8')).trim().split('\n')
    const attemptsRun = new Set(log.map((l) => Number(l.split(' ')[0])))
    if (Math.max(...attemptsRun) !== row.attempts) problems.push(`${id} (${stop}) phases ran at attempts ${[...attemptsRun]}, but it completed at ${row.attempts}`)
    if (row.attempts > 1) rerun++
  }
  t.same(problems, [], 'every request completed exactly once, at the expected attempt, with its final attempt\'s result and file')

  const files = await filesUnder(built.media)
  const expectedFiles = requests.map(({ id }) => `${id}/output/out.txt`).sort()
  t.same(files, expectedFiles, 'no orphan files: only each request\'s one output file is left')
  t.comment(`faults injected: ${kills} SIGKILL(s) with ${inPhase} attempts held inside a phase (${PER_PHASE * kills} per phase) and ${QUEUED * kills} requests queued; `
    + `jobs checked ${requests.length}; retried ${rerun}; lost 0, duplicated 0, stuck 0`)
})
