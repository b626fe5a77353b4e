// The claim's queue controls on its short path (worker/engine/attempts.ts claimIn): a feature the last
// claim found open is not read first, its rows' UPDATE checks it is still open. Paused (or limited)
// since, the claim takes nothing and its fetched jobs go back to the queue exactly as they were.
import t from 'tap'
import { sql } from 'kysely'
import { build, userWithToken } from '../helper.ts'
import { createRequest, queueName } from '../../worker/index.ts'
import { claimAttempts, type Claimed } from '../../worker/engine/attempts.ts'
import { ensureFeatureSettings, setFeatureConcurrency, setFeaturePaused } from '../../worker/monitoring/feature-settings.ts'

t.test('paused after a claim found it open: nothing is claimed, the job is back as it was; resumed, it is claimed', async (t) => {
  const built = await build(t)
  const { user } = await userWithToken(built)
  const { db, boss } = built.services
  const queue = queueName('text-stats')
  await ensureFeatureSettings(db, ['text-stats']) // as the engine does at start
  const first = await createRequest(db, boss, { ownerId: user.id, feature: 'text-stats', input: { text: 'one' } })
  const claim = async (): Promise<Claimed[]> => {
    let committed: Promise<boolean> = Promise.resolve(true)
    const jobs = await claimAttempts(db, boss, queue, 1, (_c, c) => { committed = c })
    t.ok(await committed, 'the claim committed')
    return jobs
  }
  const [one] = await claim()
  t.equal(one?.row?.id, first.id, 'the feature is open: its job is claimed (and the feature noted open)')

  const second = await createRequest(db, boss, { ownerId: user.id, feature: 'text-stats', input: { text: 'two' } })
  const job = () => sql<{ state: string; retry_count: number; started_on: Date | null }>`
    SELECT state::text AS state, retry_count, started_on FROM pgboss.job WHERE id = ${second.job_id}`.execute(db).then((r) => r.rows[0]!)
  const before = await job()
  await setFeaturePaused(db, 'text-stats', true)
  const paused = await claim()
  t.same(paused.map((c) => ({ row: c.row, givenBack: c.givenBack })), [{ row: null, givenBack: true }], 'paused: nothing claimed, the job given back')
  t.same(await job(), before, 'the job is as it was before the fetch')
  const row = await db.selectFrom('processing_requests').select(['status', 'attempts']).where('id', '=', second.id).executeTakeFirstOrThrow()
  t.same(row, { status: 'pending', attempts: 0 }, 'the request still waits')
  t.same(await claim(), [], 'the next claim reads the pause first and fetches nothing')

  await setFeaturePaused(db, 'text-stats', false)
  const [resumed] = await claim()
  t.equal(resumed?.row?.id, second.id, 'resumed: it is claimed')
})

t.test('limited after a claim found it open: the claim counts the limit again', async (t) => {
  const built = await build(t)
  const { user } = await userWithToken(built)
  const { db, boss } = built.services
  const queue = queueName('text-stats')
  await ensureFeatureSettings(db, ['text-stats'])
  for (let i = 0; i < 3; i++) await createRequest(db, boss, { ownerId: user.id, feature: 'text-stats', input: { text: `t${i}` } })
  const claim = (n: number) => claimAttempts(db, boss, queue, n, () => {})
  t.equal((await claim(1)).filter((c) => c.row).length, 1, 'open: one claimed')
  await setFeatureConcurrency(db, 'text-stats', 1)
  const limited = await claim(2)
  t.equal(limited.filter((c) => c.row).length, 0, 'the limit of one is taken by the running attempt: nothing more starts')
  t.same(await claim(2), [], 'and the next claim reads the limit first')
})
