// The concurrency limit holds across instances: two engines with three threads each (six threads)
// never run more than the limit of one feature at once, as the feature itself sees it (each run keeps
// a file in a shared folder while it runs and records the most files it saw).
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { api } from '../helper.ts'
import { until } from '../jobs/support.ts'
import { buildMonitoring, startInstance } from './support.ts'

async function runBatch(t: Test, m: Awaited<ReturnType<typeof buildMonitoring>>, count: number): Promise<number> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'conveyor-concurrency-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const ids: string[] = []
  for (let i = 0; i < count; i++) ids.push((await m.asUser('POST', '/api/v1/mon-work/create/', { ms: 400, dir })).data.id)
  const started = Date.now()
  const results = await until(
    () => Promise.all(ids.map((id) => api(m.app, { method: 'GET', url: `/api/v1/mon-work/results/${id}/`, headers: m.user.headers }))),
    (rs) => rs.every((r) => r.statusCode === 200), { timeoutMs: 60_000 })
  t.comment(`${count} runs of 400 ms took ${Date.now() - started} ms`)
  return Math.max(...results.map((r) => r.data.data.peak as number))
}

t.test('two instances with six threads run at most the limit at once, and more without it', async (t) => {
  const m = await buildMonitoring(t, { env: { WORKER_THREADS: '3' } })
  await startInstance(t, m.config, m.url)

  const limited = await m.asStaff('PATCH', '/api/v1/admin/monitoring/features/mon-work/', { concurrency: 2 })
  t.equal(limited.statusCode, 200)
  t.match(limited.data, { name: 'mon-work', concurrency: 2 })
  const peak = await runBatch(t, m, 10)
  t.ok(peak <= 2, `at most 2 at once with the limit (saw ${peak})`)
  t.equal(peak, 2, 'and the limit is used')

  // The same batch without the limit: the six threads overlap (so the check above can fail).
  await m.asStaff('PATCH', '/api/v1/admin/monitoring/features/mon-work/', { concurrency: null })
  const free = await runBatch(t, m, 10)
  t.ok(free > 2, `more than 2 at once without it (saw ${free})`)
})

t.test('a limit of one runs the feature one at a time across instances', async (t) => {
  const m = await buildMonitoring(t, { env: { WORKER_THREADS: '2' } })
  await startInstance(t, m.config, m.url)
  await m.asStaff('PATCH', '/api/v1/admin/monitoring/features/mon-work/', { concurrency: 1 })
  t.equal(await runBatch(t, m, 6), 1)
})
