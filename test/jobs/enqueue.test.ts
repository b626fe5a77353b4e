// createRequest: the row and its pg-boss job commit or roll back together; queues agree with features.
import t from 'tap'
import { sql } from 'kysely'
import { createRequest, InputError, NotFoundError, queueName } from '../../worker/index.ts'
import { buildJobs, client } from './support.ts'

const countJobs = async (db: any, queue: string) =>
  (await sql<{ n: number }>`SELECT count(*)::int AS n FROM pgboss.job WHERE name = ${queue}`.execute(db)).rows[0]!.n

t.test('a rolled-back create leaves neither the request nor its job; a committed one has both', async (t) => {
  const built = await buildJobs(t)
  const { db, boss } = built.services
  const { user } = await client(built)
  await t.rejects(db.transaction().execute(async (trx) => {
    const row = await createRequest(trx, boss, { ownerId: user.id, feature: 'text-stats', input: { text: 'rolled back' } })
    t.ok(row.id, 'created inside the transaction')
    t.equal(await countJobs(trx, queueName('text-stats')), 1, 'the job is visible inside the transaction')
    throw new Error('roll back')
  }), /roll back/)
  t.equal((await db.selectFrom('processing_requests').selectAll().execute()).length, 0, 'no request')
  t.equal(await countJobs(db, queueName('text-stats')), 0, 'no job')

  const row = await db.transaction().execute((trx) =>
    createRequest(trx, boss, { ownerId: user.id, feature: 'text-stats', input: { text: 'kept', unknown: 1 } }))
  const jobs = (await sql<{ id: string; data: any }>`SELECT id, data FROM pgboss.job WHERE name = ${queueName('text-stats')}`.execute(db)).rows
  t.same(jobs, [{ id: row.job_id, data: { requestId: row.id } }], 'one job, pointing at its request')
  t.same(row.input, { text: 'kept', top_n: 10, words_per_minute: 200 }, 'input stored validated, defaults applied, unknown fields dropped')
})

t.test('createRequest validates like create/ and throws domain errors (for schedules and other callers)', async (t) => {
  const built = await buildJobs(t)
  const { db, boss } = built.services
  const { user } = await client(built)
  const err = await db.transaction().execute((trx) =>
    createRequest(trx, boss, { ownerId: user.id, feature: 'text-stats', input: { text: 5 }, scheduleId: null })).catch((e) => e)
  t.ok(err instanceof InputError)
  t.same(err.fields, { text: ['Not a valid string.'] })
  const unknown = await db.transaction().execute((trx) =>
    createRequest(trx, boss, { ownerId: user.id, feature: 'nope', input: {} })).catch((e) => e)
  t.ok(unknown instanceof NotFoundError)
})

t.test("each feature's queue expires jobs slightly after the feature's time limit", async (t) => {
  const built = await buildJobs(t)
  const { boss } = built.services
  const limited = await boss.getQueue(queueName('test-limited'))
  t.ok(limited!.expireInSeconds! > 1 && limited!.expireInSeconds! <= 60, `1 s limit → ${limited!.expireInSeconds} s expiry`)
  const text = await boss.getQueue(queueName('text-stats'))
  t.ok(text!.expireInSeconds! > 600 && text!.expireInSeconds! < 700, `600 s limit → ${text!.expireInSeconds} s expiry`)
  const defaults = await boss.getQueue(queueName('test-behave'))
  t.ok(defaults!.expireInSeconds! > 60, 'per feature')
  t.equal(text!.retryLimit, 0, 'retries are the engine’s, one job per attempt')
  t.equal(text!.heartbeatSeconds, built.config.jobHeartbeatSeconds)
})
