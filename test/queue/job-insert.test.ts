// The one adapter over pg-boss internals (worker/queue/job-insert.ts) must stay equal to the public
// API it replaces: a job created by our one-statement create and one created by send() are stored
// alike, column by column, the undocumented result fields the engine reads are still there, and a
// fetched job given back by its restore statement is as it was.
import t from 'tap'
import { randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import { fromKysely } from 'pg-boss'
import { build, userWithToken } from '../helper.ts'
import { createRequest, queueName } from '../../worker/index.ts'
import { completedCount, jobInsertOf, restoreFetched, touchedIds } from '../../worker/queue/job-insert.ts'

// Columns that differ by nature between two jobs: identity, payload and the clock.
const PER_JOB = new Set(['id', 'data', 'created_on', 'start_after', 'keep_until', 'singleton_on'])

t.test('a job made by the one-statement create is stored exactly as send() stores it', async (t) => {
  const built = await build(t)
  const { user } = await userWithToken(built)
  const { db, boss } = built.services
  const queue = queueName('text-stats')
  t.ok(await jobInsertOf(boss, queue), 'the standard queue uses the adapter')

  const row = await createRequest(db, boss, { ownerId: user.id, feature: 'text-stats', input: { text: 'one two' } })
  const sentId = randomUUID()
  await db.transaction().execute((trx) => boss.send(queue, { requestId: randomUUID() }, { id: sentId, db: fromKysely(trx) }))

  const { rows } = await sql<Record<string, unknown>>`SELECT *, keep_until - created_on AS keep_for, start_after - created_on AS delay
    FROM pgboss.job WHERE id IN (${row.job_id}, ${sentId})`.execute(db)
  t.equal(rows.length, 2, 'both jobs exist')
  const ours = rows.find((r) => r.id === row.job_id)!
  const theirs = rows.find((r) => r.id === sentId)!
  t.same(ours.data, { requestId: row.id }, 'our job carries the request id')
  const columns = Object.keys(theirs).filter((c) => !PER_JOB.has(c))
  t.ok(columns.length >= 30, `compared ${columns.length} columns`)
  for (const c of columns) t.same(ours[c], theirs[c], `column ${c}`)
})

t.test('complete() and touch() still return the fields the engine reads', async (t) => {
  const built = await build(t)
  const { user } = await userWithToken(built)
  const { db, boss } = built.services
  const queue = queueName('text-stats')
  await createRequest(db, boss, { ownerId: user.id, feature: 'text-stats', input: { text: 'x' } })
  const [job] = await boss.fetch(queue, { batchSize: 1 })
  t.ok(job, 'fetched the job')
  const touched = await boss.touch(queue, [job!])
  t.same(touchedIds(touched), [job!.id], 'touch() names the jobs still active (settled)')
  t.equal(completedCount(await boss.complete(queue, job!.id)), 1, 'complete() counts what it completed (affected)')
  t.equal(completedCount(await boss.complete(queue, job!.id)), 0, 'a second completion completes nothing')
})

t.test('restoreFetched gives a fetched job back exactly as it was before the fetch', async (t) => {
  const built = await build(t)
  const { user } = await userWithToken(built)
  const { db, boss } = built.services
  const queue = queueName('text-stats')
  const row = await createRequest(db, boss, { ownerId: user.id, feature: 'text-stats', input: { text: 'one two' } })
  const columns = sql`state::text AS state, started_on, heartbeat_on, retry_count`
  const before = (await sql<Record<string, unknown>>`SELECT ${columns} FROM pgboss.job WHERE id = ${row.job_id}`.execute(db)).rows[0]
  await db.transaction().execute(async (trx) => {
    const [job] = await boss.fetch(queue, { db: fromKysely(trx) })
    t.equal(job?.id, row.job_id, 'fetched')
    await restoreFetched(boss, fromKysely(trx), queue, [job!.id])
  })
  const after = (await sql<Record<string, unknown>>`SELECT ${columns} FROM pgboss.job WHERE id = ${row.job_id}`.execute(db)).rows[0]
  t.same(after, before, 'state, start, heartbeat and retry count as before the fetch')
  const [again] = await boss.fetch(queue)
  t.match(again, { id: row.job_id, retryCount: 0 }, 'the next fetch gets it, at the same attempt')
})
