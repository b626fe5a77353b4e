// createRequest: the row and its pg-boss job commit or roll back together; queues agree with features.
import t from 'tap'
import { sql } from 'kysely'
import { createRequest, InputError, NotFoundError, queueName } from '../../worker/index.ts'
import { createGroupStats } from '../../worker/requests/create.ts'
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

t.test('creates arriving together share a statement, each with its job; one member\'s failure is its own', async (t) => {
  const built = await buildJobs(t)
  const { db, boss } = built.services
  const { user } = await client(built)
  const queue = queueName('text-stats')
  const before = createGroupStats()
  // Sent in one tick: the first finds no statement in flight and goes alone; the rest wait and go together.
  const outcomes = await Promise.allSettled(Array.from({ length: 10 }, (_, i) =>
    createRequest(db, boss, { ownerId: i === 6 ? 2_000_000_000 : user.id, feature: 'text-stats', input: { text: `text ${i}` } })))
  const after = createGroupStats()
  t.equal(after.members - before.members, 10, 'every create went through the groups')
  t.ok(after.groups - before.groups < 10, `grouped: ${after.members - before.members} creates in ${after.groups - before.groups} statements (before the retry of the failed group)`)
  const failed = outcomes[6]!
  t.equal(failed.status, 'rejected', 'the create of a user who does not exist fails')
  t.equal((failed as PromiseRejectedResult).reason.code, '23503', 'with its own error (a foreign key violation)')
  const created = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []))
  t.equal(created.length, 9, 'the other nine are created')
  t.same(created.map((r) => r.input.text), [0, 1, 2, 3, 4, 5, 7, 8, 9].map((i) => `text ${i}`), 'each answered with its own row')
  const jobs = (await sql<{ id: string; data: any }>`SELECT id, data FROM pgboss.job WHERE name = ${queue}`.execute(db)).rows
  t.same(new Map(jobs.map((j) => [j.id, j.data.requestId])), new Map(created.map((r) => [r.job_id, r.id])), 'one job per created request, pointing at it; none for the failed one')
  t.equal((await db.selectFrom('processing_requests').select('id').execute()).length, 9, 'no row for the failed one')
})

t.test('a group of creates is bounded in bytes: large inputs go a few at a time, each created whole', async (t) => {
  const built = await buildJobs(t)
  const { db, boss } = built.services
  const { user } = await client(built)
  const before = createGroupStats()
  const text = (i: number) => `${i} `.padEnd(300_000, 'x')
  const created = await Promise.all(Array.from({ length: 10 }, (_, i) => createRequest(db, boss, { ownerId: user.id, feature: 'text-stats', input: { text: text(i) } })))
  const after = createGroupStats()
  // The first goes alone; then at most three of 300 kB fit in a group's 1 MiB.
  t.ok(after.groups - before.groups >= 4, `10 creates of 300 kB in ${after.groups - before.groups} statements`)
  const stored = await db.selectFrom('processing_requests').select(['id', 'input']).execute()
  t.same(new Map(stored.map((r) => [r.id, (r.input as { text: string }).text])), new Map(created.map((r, i) => [r.id, text(i)])), 'every input stored whole, with its own request')
})
