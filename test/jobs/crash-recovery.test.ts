// A process killed with SIGKILL mid-job leaves nothing stuck: when an engine starts again, each lost
// attempt is retried or failed per its feature's retry policy.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import path from 'node:path'
import t from 'tap'
import { startEngine } from '../../worker/index.ts'
import { engineDeps } from '../../server/start.ts'
import { buildJobs, client, TEST_FEATURES } from './support.ts'

t.test('requests of a SIGKILLed engine are retried or failed when an engine runs again', async (t) => {
  // Heartbeats at pg-boss's minimum, so a silent job is presumed lost after 10 s.
  const env = { JOB_HEARTBEAT_SECONDS: '10' }
  const built = await buildJobs(t, { env })
  const c = await client(built)
  const retried = (await c.create('test-retry', { hang_until: 1 })).data.id // retry limit 2
  const failed = (await c.create('test-behave', { sleep_ms: 600_000 })).data.id // no retries

  const child = spawn(process.execPath, [path.join(import.meta.dirname, 'fixtures', 'engine-process.ts')], {
    env: { ...process.env, ...env, DATABASE_URL: built.url, MEDIA_ROOT: built.media, FEATURE_MODULES: TEST_FEATURES, WORKER_THREADS: '2', LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  t.teardown(() => { child.kill('SIGKILL') })
  await c.settle('test-retry', retried, ['processing'], 30_000)
  await c.settle('test-behave', failed, ['processing'], 30_000)
  child.kill('SIGKILL')
  await once(child, 'exit')

  const engine = await startEngine(engineDeps(built.services))
  try {
    const a = await c.settle('test-retry', retried, undefined, 60_000)
    t.match(a, { status: 'completed', attempts: 2 }, 'retried per policy, and the retry completed')
    const b = await c.settle('test-behave', failed, undefined, 60_000)
    t.match(b, { status: 'failed', attempts: 1, error_message: 'The worker running this request stopped unexpectedly.' }, 'no retries: failed')
  } finally {
    await engine.stop()
  }
})

t.test('stopping the engine requeues a running job, which the next engine runs again', async (t) => {
  const built = await buildJobs(t, { env: { SHUTDOWN_GRACE_SECONDS: '0.2' } })
  const c = await client(built)
  const id = (await c.create('test-retry', { hang_until: 1 })).data.id
  const first = await startEngine(engineDeps(built.services))
  await c.settle('test-retry', id, ['processing'])
  await first.stop()
  t.match((await c.status('test-retry', id)).data, { status: 'pending', attempts: 1, error_message: 'Interrupted by a shutdown; it will run again.' })
  const second = await startEngine(engineDeps(built.services))
  try {
    t.match(await c.settle('test-retry', id), { status: 'completed', attempts: 2, error_message: null })
  } finally {
    await second.stop()
  }
})
