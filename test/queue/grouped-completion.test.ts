// Completions grouped per commit (worker/engine/completer.ts, attempts.ts completeAttempts): a group
// saves every member that still owns its request in one transaction, and a member that does not
// (cancelled meanwhile, or its job taken back) costs only itself: the others are saved, it is not.
import t, { type Test } from 'tap'
import { sql } from 'kysely'
import { fromKysely } from 'pg-boss'
import { build, userWithToken } from '../helper.ts'
import { createRequest, queueName } from '../../worker/index.ts'
import { claimAttempts, completeAttempts, type Claimed, type Completion } from '../../worker/engine/attempts.ts'
import { startCompleter } from '../../worker/engine/completer.ts'

async function claimed(t: Test, n: number) {
  const built = await build(t)
  const { user } = await userWithToken(built)
  const { db, boss } = built.services
  for (let i = 0; i < n; i++) await createRequest(db, boss, { ownerId: user.id, feature: 'text-stats', input: { text: `text ${i}` } })
  let commit: Promise<boolean> = Promise.resolve(false)
  const jobs = await claimAttempts(db, boss, queueName('text-stats'), n, (_c, committed) => { commit = committed })
  t.ok(await commit, 'the claim committed')
  t.equal(jobs.length, n, `claimed ${n} jobs`)
  const completion = (c: Claimed, i: number): Completion => ({
    requestId: c.row!.id, job: { id: c.job.id, retryCount: c.job.retryCount }, feature: 'text-stats', attempt: c.row!.attempts,
    result: { data: { words: i }, files: [] }, stagedOutput: `/nonexistent/${i}`, outputDir: `/nonexistent/out-${i}`,
    logs: { requestId: c.row!.id, attempt: c.row!.attempts, lines: [{ seq: 1, at: new Date().toISOString(), level: 'info', message: `line of ${i}` }], last: 1 },
  })
  return { db, boss, list: jobs.map(completion) }
}

async function states(db: Awaited<ReturnType<typeof claimed>>['db'], ids: string[]) {
  const { rows } = await sql<{ id: string; status: string; data: unknown; lines: number; job_state: string }>`
    SELECT p.id, p.status, r.data, (SELECT count(*)::int FROM job_logs l WHERE l.request_id = p.id) AS lines, j.state::text AS job_state
      FROM processing_requests p LEFT JOIN processing_results r ON r.request_id = p.id JOIN pgboss.job j ON j.id = p.job_id
     WHERE p.id = ANY(${ids}::uuid[])`.execute(db)
  return new Map(rows.map((r) => [r.id, r]))
}

t.test('a group saves all its members in one go: results, log lines, jobs completed', async (t) => {
  const { db, boss, list } = await claimed(t, 3)
  const outcomes = await completeAttempts(db, boss, list)
  t.same(outcomes.map((o) => o.status === 'fulfilled' && o.value), [true, true, true])
  const s = await states(db, list.map((c) => c.requestId))
  list.forEach((c, i) => {
    const row = s.get(c.requestId)!
    t.equal(row.status, 'completed', `member ${i} completed`)
    t.same(row.data, { words: i }, `member ${i} has its own result`)
    t.equal(row.lines, 1, `member ${i} has its log line`)
    t.equal(row.job_state, 'completed', `member ${i}'s job completed`)
  })
})

t.test('a member cancelled meanwhile, or whose job was taken back, is not saved; the rest are', async (t) => {
  const { db, boss, list } = await claimed(t, 3)
  const [kept, cancelled, takenBack] = list as [Completion, Completion, Completion]
  await db.updateTable('processing_requests').set({ status: 'cancelled' }).where('id', '=', cancelled.requestId).execute()
  // Taken back: pg-boss no longer holds the job as active (as after an expiry); the row still says processing.
  await db.transaction().execute((trx) => boss.fail(queueName('text-stats'), takenBack.job.id, { message: 'expired' }, { db: fromKysely(trx) }))
  const outcomes = await completeAttempts(db, boss, list)
  t.same(outcomes.map((o) => o.status === 'fulfilled' && o.value), [true, false, false], 'each member has its own outcome')
  const s = await states(db, list.map((c) => c.requestId))
  t.equal(s.get(kept.requestId)!.status, 'completed')
  t.same(s.get(kept.requestId)!.data, { words: 0 })
  t.equal(s.get(cancelled.requestId)!.status, 'cancelled', 'the cancel stands')
  t.equal(s.get(cancelled.requestId)!.data, null, 'no result for the cancelled member')
  t.equal(s.get(cancelled.requestId)!.lines, 0, 'nor its log lines')
  t.equal(s.get(takenBack.requestId)!.status, 'processing', 'the taken-back member is left to whoever owns it now')
  t.equal(s.get(takenBack.requestId)!.data, null)
})

t.test('a member whose save fails (a result PostgreSQL refuses) fails alone', async (t) => {
  const { db, boss, list } = await claimed(t, 2)
  const bad = { ...list[1]!, result: { data: { text: 'nul \u0000 byte' }, files: [] } }
  const outcomes = await completeAttempts(db, boss, [list[0]!, bad])
  t.equal(outcomes[0]!.status, 'fulfilled')
  t.equal(outcomes[1]!.status, 'rejected', 'the refused one reports its error')
  const s = await states(db, [list[0]!.requestId, bad.requestId])
  t.equal(s.get(list[0]!.requestId)!.status, 'completed', 'the other member is saved')
  t.equal(s.get(bad.requestId)!.status, 'processing', 'the failed one is left for the engine to settle')
})

t.test('the completer groups the saves that arrive while one is in flight', async (t) => {
  const { db, boss, list } = await claimed(t, 5)
  const completer = startCompleter(db, boss)
  const results = await Promise.all(list.map((c) => completer.complete(c)))
  t.same(results, [true, true, true, true, true])
  // The first starts alone at once; the four that arrived meanwhile go together.
  t.same(completer.stats(), { groups: 2, members: 5 })
  const s = await states(db, list.map((c) => c.requestId))
  t.ok([...s.values()].every((r) => r.status === 'completed' && r.job_state === 'completed'), 'all saved')
})
