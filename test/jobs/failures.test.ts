// Every way an attempt can fail, and what the request says afterwards: phase errors, a permanent
// error, the time limit, a crashing, exiting or out-of-memory thread, and retries per policy.
import t from 'tap'
import { liveThreads } from '../../worker/index.ts'
import { buildJobs, client } from './support.ts'

t.test('a failure in each phase fails the request with a readable message', async (t) => {
  const built = await buildJobs(t, { engine: true })
  const c = await client(built)
  const ids: Record<string, string> = {}
  for (const phase of ['validate', 'process', 'save']) ids[phase] = (await c.create('test-behave', { fail_in: phase })).data.id
  ids.cleanup = (await c.create('test-cleanup-fails', {})).data.id
  for (const [phase, id] of Object.entries(ids)) {
    const feature = phase === 'cleanup' ? 'test-cleanup-fails' : 'test-behave'
    const s = await c.settle(feature, id)
    t.equal(s.status, 'failed', `${phase}: failed`)
    t.equal(s.error_message, `${phase[0]!.toUpperCase()}${phase.slice(1)} failed: boom in ${phase}`, `${phase}: message names the phase`)
    t.ok(s.finished_at, `${phase}: finished_at set`)
    const results = await c.call('GET', `/api/v1/${feature}/results/${id}/`)
    t.equal(results.statusCode, 409)
    t.same(results.data, { detail: 'Results are not ready.', status: 'failed' })
  }
})

t.test('a JobError is shown as it is and never retried', async (t) => {
  const built = await buildJobs(t, { engine: true })
  const c = await client(built)
  const id = (await c.create('test-retry', {})).data.id // sanity: the retrying feature works
  t.equal((await c.settle('test-retry', id)).status, 'completed')
  const bad = (await c.create('test-behave', { fail_in: 'validate', permanent: true })).data.id
  const s = await c.settle('test-behave', bad)
  t.match(s, { status: 'failed', error_message: 'Bad input, told to fail.', attempts: 1 })
})

t.test('retries follow the feature policy: success on a later attempt, or failed after the last', async (t) => {
  const built = await buildJobs(t, { engine: true })
  const c = await client(built)
  const recovers = (await c.create('test-retry', { fail_until: 1 })).data.id
  const givesUp = (await c.create('test-retry', { fail_until: 9 })).data.id
  const ok = await c.settle('test-retry', recovers)
  t.match(ok, { status: 'completed', attempts: 2, error_message: null })
  t.same((await c.call('GET', `/api/v1/test-retry/results/${recovers}/`)).data.data, { attempt: 2 })
  const failed = await c.settle('test-retry', givesUp)
  t.match(failed, { status: 'failed', attempts: 3, error_message: 'Process failed: failing attempt 3' })
})

t.test('the time limit terminates the thread and fails the request; the pool replaces the thread', async (t) => {
  const built = await buildJobs(t, { engine: true })
  const c = await client(built)
  const id = (await c.create('test-limited', {})).data.id
  const s = await c.settle('test-limited', id)
  t.match(s, { status: 'failed', error_message: 'Time limit exceeded (1 s)' })
  // The replaced thread takes work again.
  const next = (await c.create('text-stats', { text: 'still working' })).data.id
  t.equal((await c.settle('text-stats', next)).status, 'completed')
  t.equal(built.engine!.stats().threads, 2)
})

t.test('a thread that throws outside a phase, exits, or runs out of memory fails only its own job', async (t) => {
  const built = await buildJobs(t, { engine: true, env: { WORKER_MEMORY_LIMIT_MB: '64' } })
  const c = await client(built)
  const uncaught = (await c.create('test-behave', { crash: 'uncaught', sleep_ms: 2000 })).data.id
  const exit = (await c.create('test-behave', { crash: 'exit' })).data.id
  const oom = (await c.create('test-behave', { crash: 'oom' })).data.id
  const fine = (await c.create('text-stats', { text: 'unaffected' })).data.id
  t.match(await c.settle('test-behave', uncaught), { status: 'failed', error_message: 'The worker thread crashed: thrown outside any phase' })
  t.match(await c.settle('test-behave', exit), { status: 'failed', error_message: 'The worker thread exited unexpectedly (exit code 3).' })
  t.match(await c.settle('test-behave', oom, undefined, 60_000), { status: 'failed', error_message: 'The worker thread ran out of memory (limit 64 MB).' })
  t.equal((await c.settle('text-stats', fine)).status, 'completed')
  // And the pool is whole again.
  const after = (await c.create('text-stats', { text: 'after the crashes' })).data.id
  t.equal((await c.settle('text-stats', after)).status, 'completed')
})

t.test('stopping the engine leaves no worker thread alive', async (t) => {
  const built = await buildJobs(t, { engine: true })
  t.ok(liveThreads() >= 2, 'threads run while the engine does')
  await built.engine!.stop()
  t.equal(liveThreads(), 0)
})
