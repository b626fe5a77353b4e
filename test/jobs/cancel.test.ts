// Cancel and delete: a pending request never starts, a running one is aborted (or its thread
// terminated after the grace period), files go, and a finished request cannot be cancelled.
import { existsSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { sql } from 'kysely'
import { startEngine } from '../../worker/index.ts'
import { engineDeps } from '../../server/start.ts'
import { buildJobs, client, until } from './support.ts'

const jobState = async (db: any, jobId: string) =>
  (await sql<{ state: string }>`SELECT state::text FROM pgboss.job WHERE id = ${jobId}`.execute(db)).rows[0]?.state

t.test('a cancelled pending request never starts', async (t) => {
  const built = await buildJobs(t)
  const c = await client(built)
  const id = (await c.create('test-behave', {})).data.id
  const cancelled = await c.call('POST', `/api/v1/test-behave/cancel/${id}/`)
  t.equal(cancelled.statusCode, 200)
  t.match(cancelled.data, { id, status: 'cancelled', attempts: 0, started_at: null })
  t.ok(cancelled.data.finished_at)
  const row = await built.services.db.selectFrom('processing_requests').select('job_id').where('id', '=', id).executeTakeFirstOrThrow()
  t.equal(await jobState(built.services.db, row.job_id!), 'cancelled', 'its pg-boss job is cancelled too')
  const engine = await startEngine(engineDeps(built.services))
  try {
    // A request created after it completes, so the engine has been through the queue.
    const later = (await c.create('test-behave', {})).data.id
    t.equal((await c.settle('test-behave', later)).status, 'completed')
    t.match((await c.status('test-behave', id)).data, { status: 'cancelled', attempts: 0, started_at: null })
  } finally {
    await engine.stop()
  }
})

t.test('cancelling a running request aborts it, frees its thread and removes its files', async (t) => {
  const built = await buildJobs(t, { engine: true })
  const c = await client(built)
  const id = (await c.create('test-behave', { sleep_ms: 60_000 })).data.id
  await c.settle('test-behave', id, ['processing'])
  const res = await c.call('POST', `/api/v1/test-behave/cancel/${id}/`)
  t.match(res.data, { status: 'cancelled', attempts: 1 })
  await until(async () => built.engine!.stats().active, (n) => n === 0)
  t.notOk(existsSync(path.join(built.media, id)), 'no files left')
  t.match((await c.status('test-behave', id)).data, { status: 'cancelled' })
  const next = (await c.create('text-stats', { text: 'next' })).data.id
  t.equal((await c.settle('text-stats', next)).status, 'completed')
})

t.test('a thread that ignores the cancel is terminated after the grace period and replaced', async (t) => {
  const built = await buildJobs(t, { engine: true })
  const c = await client(built)
  const id = (await c.create('test-behave', { sleep_ms: 60_000, ignore_abort: true })).data.id
  await c.settle('test-behave', id, ['processing'])
  t.equal((await c.call('POST', `/api/v1/test-behave/cancel/${id}/`)).data.status, 'cancelled')
  await until(async () => built.engine!.stats(), (s) => s.active === 0 && s.busy === 0)
  t.equal(built.engine!.stats().threads, 2)
  t.match((await c.status('test-behave', id)).data, { status: 'cancelled' })
  const next = (await c.create('text-stats', { text: 'next' })).data.id
  t.equal((await c.settle('text-stats', next)).status, 'completed')
})

t.test('a finished request cannot be cancelled (409)', async (t) => {
  const built = await buildJobs(t, { engine: true })
  const c = await client(built)
  const id = (await c.create('text-stats', { text: 'done soon' })).data.id
  await c.settle('text-stats', id)
  const res = await c.call('POST', `/api/v1/text-stats/cancel/${id}/`)
  t.equal(res.statusCode, 409)
  t.same(res.data, { detail: 'The request is already completed.', status: 'completed' })
})

t.test('delete removes a finished request, its results and files; a running one is stopped first', async (t) => {
  const built = await buildJobs(t, { engine: true })
  const c = await client(built)
  const done = (await c.create('test-behave', { output: 'some output' })).data.id
  await c.settle('test-behave', done)
  const results = await c.call('GET', `/api/v1/test-behave/results/${done}/`)
  t.equal(results.data.files.length, 1)
  t.ok(existsSync(path.join(built.media, done, 'output', 'out.txt')))
  const del = await c.call('DELETE', `/api/v1/test-behave/delete/${done}/`)
  t.equal(del.statusCode, 204)
  t.equal((await c.status('test-behave', done)).statusCode, 404)
  t.notOk(existsSync(path.join(built.media, done)), 'files removed')
  t.notOk(await built.services.db.selectFrom('processing_results').select('request_id').where('request_id', '=', done).executeTakeFirst(), 'results removed')
  t.equal((await c.call('DELETE', `/api/v1/test-behave/delete/${done}/`)).statusCode, 404, 'a second delete is 404')

  const running = (await c.create('test-behave', { sleep_ms: 60_000 })).data.id
  await c.settle('test-behave', running, ['processing'])
  t.equal((await c.call('DELETE', `/api/v1/test-behave/delete/${running}/`)).statusCode, 204)
  await until(async () => built.engine!.stats().active, (n) => n === 0)
  t.equal((await c.status('test-behave', running)).statusCode, 404)
})
