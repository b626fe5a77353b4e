// Thread faults beyond test/jobs/failures.test.ts: a thread blocked in native code past its time
// limit (Atomics.wait, a synchronous child process), and a thread that crashes while another job of
// the same feature runs. Each fails only its own job, and the pool is back at full size at once.
import t from 'tap'
import path from 'node:path'
import { liveThreads } from '../../worker/index.ts'
import { buildJobs, client, TEST_FEATURES } from '../jobs/support.ts'

const FAULT_FEATURES = path.join(import.meta.dirname, 'fixtures', 'fault-features.ts')
const env = { FEATURE_MODULES: `${TEST_FEATURES},${FAULT_FEATURES}`, WORKER_THREADS: '2' }

for (const how of ['atomics', 'exec'] as const) {
  t.test(`a thread blocked in native code (${how === 'atomics' ? 'Atomics.wait' : 'execSync sleep'}) past its time limit fails its job; the pool stays full`, async (t) => {
    const built = await buildJobs(t, { engine: true, env })
    const c = await client(built)
    // (The file's process waits for a blocked `sleep` to end before it exits: keep it short.)
    const stuck = (await c.create('fault-native', { how, seconds: how === 'exec' ? 12 : 60 })).data.id
    t.match(await c.settle('fault-native', stuck, undefined, 30_000), { status: 'failed', error_message: 'Time limit exceeded (1 s)' })
    t.equal(built.engine!.stats().threads, 2, 'the pool has its two threads')
    // A synchronous child process cannot be interrupted: that thread is still there, replaced, not waited for.
    if (how === 'exec') t.ok(liveThreads() >= 3, `the blocked thread was replaced without waiting for it (${liveThreads()} threads alive)`)
    // Both threads take work again while the blocked one (if still blocked) is left to exit on its own.
    const next = await Promise.all([1, 2, 3, 4].map(async (i) => (await c.create('text-stats', { text: `after the block ${i}` })).data.id))
    for (const id of next) t.equal((await c.settle('text-stats', id)).status, 'completed')
  })
}

t.test('a thread crash while another job of the same feature runs: only the crashed job fails; the pool stays full', async (t) => {
  const built = await buildJobs(t, { engine: true, env })
  const c = await client(built)
  const running = (await c.create('test-behave', { sleep_ms: 1500 })).data.id
  await c.settle('test-behave', running, ['processing'])
  const crashes = (await c.create('test-behave', { crash: 'exit' })).data.id
  t.match(await c.settle('test-behave', crashes), { status: 'failed', error_message: 'The worker thread exited unexpectedly (exit code 3).' })
  t.match(await c.settle('test-behave', running), { status: 'completed', attempts: 1 }, 'the other job of the feature completed undisturbed')
  t.equal(built.engine!.stats().threads, 2, 'the pool has its two threads')
  const after = await Promise.all([1, 2].map(async () => (await c.create('test-behave', { sleep_ms: 200 })).data.id))
  for (const id of after) t.equal((await c.settle('test-behave', id)).status, 'completed', 'both threads run jobs again')
})
