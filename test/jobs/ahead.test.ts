// Short jobs taken ahead (worker/threads/pool.ts): the pool accepts more tasks than it has free threads
// only for a feature measured to take a few milliseconds, holds them until a thread frees up, and a
// task still waiting can be cancelled, terminated or shut down without ever reaching a thread. Then the
// engine end to end: in a burst some jobs are taken ahead, and every one completes once; a batch
// starts oldest first; a job that waited gets its time limit from its thread's start; at shutdown
// those still waiting go back to the queue for the next engine.
import t, { type Test } from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import pino from 'pino'
import { loadFeatures, moduleUrls } from '../../worker/features/registry.ts'
import { ThreadPool } from '../../worker/threads/pool.ts'
import type { Task } from '../../worker/threads/protocol.ts'
import { engineDeps } from '../../server/start.ts'
import { startEngine } from '../../worker/index.ts'
import { api, userWithToken } from '../helper.ts'
import { buildJobs, client, TEST_FEATURES, until } from './support.ts'

const urls = moduleUrls([TEST_FEATURES])
const AHEAD_MS = 200

/** Runs instant attempts until the pool measures the feature as short (a fresh thread's first ones are slower). */
async function measure(t: Test, p: ThreadPool, task: (input: Record<string, unknown>) => Task): Promise<void> {
  for (let i = 0; i < 50 && p.available('test-behave') <= p.idle; i++) t.match(await p.run(task({}), () => {}).outcome, { kind: 'done' })
}

async function pool(t: Test): Promise<{ pool: ThreadPool; task: (input: Record<string, unknown>) => Task }> {
  await loadFeatures(urls)
  const dir = await mkdtemp(path.join(os.tmpdir(), 'conveyor-ahead-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  // A wait of 200 ms (10 by default): an instant attempt counts as short even on a loaded machine.
  const p = new ThreadPool({
    size: 2, featureModules: urls, databaseUrl: 'postgres://unused', mediaRoot: dir, memoryLimitMb: 128, aheadMs: AHEAD_MS,
    log: pino({ level: 'silent' }), onIdle: () => {},
  })
  t.teardown(() => p.stop())
  await p.start()
  let n = 0
  const task = (input: Record<string, unknown>): Task => {
    const id = `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`
    return { requestId: id, feature: 'test-behave', attempt: 1, input, inputFile: null, workDir: path.join(dir, id, 'work'), outputDir: path.join(dir, id, 'out') }
  }
  return { pool: p, task }
}

const started = (p: Promise<void>) => Promise.race([p.then(() => true), new Promise<false>((r) => setImmediate(() => r(false)))])

t.test('a feature not yet measured is never taken ahead: only idle threads count', async (t) => {
  const { pool: p } = await pool(t)
  t.equal(p.available('test-behave'), 2, 'two idle threads, nothing ahead for an unmeasured feature')
  t.equal(p.available('csv-profile'), 2)
})

t.test('a short feature is taken ahead of busy threads; waiting tasks start as threads free up, in order', async (t) => {
  const { pool: p, task } = await pool(t)
  await measure(t, p, task)
  const perThread = (p.available('test-behave') - 2) / 2
  t.ok(perThread >= 1, `an instant feature may have tasks waiting for each thread (${perThread} each)`)
  t.equal(p.available('csv-profile'), 2, 'another, unmeasured feature: only the idle threads')

  // Both threads busy with jobs of the short feature (slow this time): more are accepted, and wait.
  const busy = [p.run(task({ sleep_ms: 300 }), () => {}), p.run(task({ sleep_ms: 300 }), () => {})]
  t.equal(p.idle, 0)
  t.equal(p.available('csv-profile'), 0, 'nothing ahead for a feature not known to be short')
  const ahead = p.available('test-behave')
  t.ok(ahead >= 2, `tasks accepted ahead while both threads run short jobs: ${ahead}`)
  const first = p.run(task({ output: 'first' }), () => {})
  const second = p.run(task({}), () => {})
  t.equal(p.waiting, 2, 'both wait for a thread')
  t.equal(await started(first.started), false, 'not started while the threads are busy')
  t.equal(p.available('test-behave'), ahead - 2, 'each waiting task takes one place ahead')

  const order: string[] = []
  void first.started.then(() => order.push('first'))
  void second.started.then(() => order.push('second'))
  t.match(await first.outcome, { kind: 'done' }, 'a task taken ahead runs once a thread frees up')
  t.match(await second.outcome, { kind: 'done' })
  t.same(order, ['first', 'second'], 'in the order they were taken')
  for (const b of busy) t.match(await b.outcome, { kind: 'done' })
  t.equal(p.waiting, 0)
})

t.test('a thread that has run longer than the allowed wait is not counted for more ahead', async (t) => {
  const { pool: p, task } = await pool(t)
  await measure(t, p, task)
  const slow = [p.run(task({ sleep_ms: 800 }), () => {}), p.run(task({ sleep_ms: 800 }), () => {})]
  // Once both have run past the wait allowed, neither thread is about to be free.
  await new Promise((r) => setTimeout(r, AHEAD_MS + 100))
  t.equal(p.available('test-behave'), 0, 'no task is taken ahead of threads running long')
  // A claimed task is never turned away: it waits, and runs when a thread frees up.
  const late = p.run(task({}), () => {})
  t.equal(p.waiting, 1)
  t.match(await late.outcome, { kind: 'done' })
  for (const s of slow) await s.outcome
})

t.test('a waiting task cancelled, terminated or shut down ends without reaching a thread', async (t) => {
  const { pool: p, task } = await pool(t)
  await measure(t, p, task)
  const busy = [p.run(task({ sleep_ms: 300 }), () => {}), p.run(task({ sleep_ms: 300 }), () => {})]
  const cancelled = p.run(task({}), () => {})
  const terminated = p.run(task({}), () => {})
  const kept = p.run(task({}), () => {})
  t.equal(p.waiting, 3)
  cancelled.cancel('Cancelled.')
  t.match(await cancelled.outcome, { kind: 'failed', aborted: true, error: { message: 'Cancelled.' } }, 'cancelled: answered as an aborted attempt')
  terminated.terminate('time limit')
  t.match(await terminated.outcome, { kind: 'terminated', reason: 'time limit' })
  t.equal(p.waiting, 1, 'only the third still waits')
  t.equal(await started(cancelled.started), false, 'the cancelled task never started')
  t.equal(await started(terminated.started), false, 'nor the terminated one')
  t.match(await kept.outcome, { kind: 'done' }, 'the one left runs')
  for (const b of busy) t.match(await b.outcome, { kind: 'done' }, 'the running jobs were not disturbed')

  const more = [p.run(task({ sleep_ms: 300 }), () => {}), p.run(task({ sleep_ms: 300 }), () => {})]
  const waiting = p.run(task({}), () => {})
  await p.stop()
  t.match(await waiting.outcome, { kind: 'terminated', reason: 'shutdown' }, 'a shutdown answers the waiting task')
  for (const m of more) t.match(await m.outcome, { kind: 'terminated', reason: 'shutdown' })
  t.throws(() => p.run(task({}), () => {}), /stopping/, 'a stopped pool takes nothing')
})

/** A burst of 200 text-stats jobs after a few to measure the feature; returns the most jobs seen waiting at once. */
async function burst(t: Test, aheadMs: string): Promise<number> {
  const built = await buildJobs(t, { engine: true, env: { WORKER_THREADS: '2', JOB_AHEAD_MS: aheadMs } })
  const c = await client(built)
  for (let i = 0; i < 5; i++) t.equal((await c.settle('text-stats', (await c.create('text-stats', { text: `warm ${i}` })).data.id)).status, 'completed')
  let most = 0
  let sampling = true
  const sample = () => { if (!sampling) return; most = Math.max(most, built.engine!.stats().waiting); setImmediate(sample) }
  t.teardown(() => { sampling = false }) // also when the test fails: the loop would keep the process alive
  sample()
  const ids: string[] = []
  for (let i = 0; i < 10; i++) {
    const batch = await Promise.all(Array.from({ length: 20 }, (_, j) => c.create('text-stats', { text: `burst ${i} ${j} words here` })))
    for (const r of batch) ids.push(r.data.id)
  }
  // One poller at a time: 200 of them, every 20 ms, kept a loaded machine's cores busy answering them.
  const rows = []
  for (const id of ids) rows.push(await c.settle('text-stats', id))
  sampling = false
  t.equal(rows.filter((r) => r.status === 'completed' && r.attempts === 1).length, ids.length, 'all 200 completed, each in one attempt')
  return most
}

t.test('a burst of short jobs: some are taken ahead of the threads, and every job completes once', async (t) => {
  const most = await burst(t, String(AHEAD_MS))
  t.ok(most > 0, `at some point jobs taken ahead waited for a thread (${most} at most)`)
})

t.test('JOB_AHEAD_MS=0: jobs are claimed only for free threads', async (t) => {
  t.equal(await burst(t, '0'), 0, 'no job ever waited for a thread')
})

/** An engine that takes `feature` ahead, measured short; `control` pauses and resumes the feature. */
async function aheadEngine(t: Test, env: Record<string, string>, feature = 'test-behave') {
  const built = await buildJobs(t, { engine: true, env: { JOB_AHEAD_MS: String(AHEAD_MS), ...env } })
  const c = await client(built)
  const staff = await userWithToken(built, { isStaff: true })
  const control = (action: 'pause' | 'resume') =>
    api(built.app, { method: 'POST', url: `/api/v1/admin/monitoring/features/${feature}/${action}/`, headers: staff.headers })
  for (let i = 0; i < 5; i++) t.equal((await c.settle(feature, (await c.create(feature, {})).data.id)).status, 'completed', 'measured as short')
  return { built, c, control }
}

t.test('jobs claimed together start in the order they were created', async (t) => {
  const { c, control } = await aheadEngine(t, { WORKER_THREADS: '1' })
  t.equal((await control('pause')).statusCode, 200)
  const ids: string[] = []
  for (let i = 0; i < 8; i++) ids.push((await c.create('test-behave', {})).data.id)
  t.equal((await control('resume')).statusCode, 200)
  const rows = []
  for (const id of ids) rows.push(await c.settle('test-behave', id))
  t.ok(rows.every((r) => r.status === 'completed'))
  const finished = rows.map((r) => r.finished_at as string)
  t.same(finished, [...finished].sort(), 'on the one thread, each finished after the one created before it')
})

t.test('a job taken ahead gets its whole time limit once its thread starts it, not from the claim', async (t) => {
  // test-timed's limit is 2 s. Three jobs of 1 s each are claimed together for one thread: the
  // third starts about 2 s after the claim and ends about 3 s after it.
  const { c, control } = await aheadEngine(t, { WORKER_THREADS: '1' }, 'test-timed')
  t.equal((await control('pause')).statusCode, 200)
  const ids: string[] = []
  for (let i = 0; i < 3; i++) ids.push((await c.create('test-timed', { sleep_ms: 1000 })).data.id)
  t.equal((await control('resume')).statusCode, 200)
  const rows = []
  for (const id of ids) rows.push(await c.settle('test-timed', id))
  t.same(rows.map((r) => [r.status, r.attempts]), [['completed', 1], ['completed', 1], ['completed', 1]], 'none ran out of time')
  t.equal(new Set(rows.map((r) => r.started_at)).size, 1, 'all three were claimed together (one started_at)')
  const span = Date.parse(rows[2]!.finished_at) - Date.parse(rows[2]!.started_at)
  t.ok(span > 2000, `the last finished ${span} ms after its claim, past the 2 s limit counted from there`)
})

t.test('jobs taken ahead and still waiting at shutdown go back to the queue, never run, and run on the next engine', async (t) => {
  const { built, c, control } = await aheadEngine(t, { WORKER_THREADS: '2', SHUTDOWN_GRACE_SECONDS: '1' })
  // Queued in this order while paused, then claimed together on resume: two long jobs take both
  // threads, the instant ones taken with them wait behind.
  t.equal((await control('pause')).statusCode, 200)
  const long = [(await c.create('test-behave', { sleep_ms: 30_000 })).data.id, (await c.create('test-behave', { sleep_ms: 30_000 })).data.id]
  const quick: string[] = []
  for (let i = 0; i < 4; i++) quick.push((await c.create('test-behave', {})).data.id)
  t.equal((await control('resume')).statusCode, 200)
  await until(async () => built.engine!.stats(), (s) => s.waiting > 0 && s.busy === 2)
  await built.engine!.stop()

  const after = await Promise.all(quick.map(async (id) => (await c.status('test-behave', id)).data))
  t.ok(after.every((r) => r.status === 'pending'), 'not one of the instant jobs ran: all are queued again')
  const waited = after.filter((r) => r.attempts === 1)
  t.ok(waited.length > 0, `${waited.length} had been claimed and waited for a thread`)
  t.ok(waited.every((r) => /shutdown/.test(r.error_message)), 'those say a shutdown interrupted them')
  t.ok(after.every((r) => r.attempts <= 1), 'the others were never claimed')
  for (const id of long) t.match((await c.status('test-behave', id)).data, { status: 'pending', attempts: 1 }, 'the long ones, stopped, are queued again too')

  // The long ones are cancelled (queued, nothing to stop): the next engine has only the instant ones.
  for (const id of long) t.equal((await c.call('POST', `/api/v1/test-behave/cancel/${id}/`)).statusCode, 200)
  const next = await startEngine(engineDeps(built.services))
  try {
    for (const id of quick) t.match(await c.settle('test-behave', id, ['completed', 'failed', 'cancelled']), { status: 'completed' }, 'run by the next engine')
  } finally {
    await next.stop()
  }
})
