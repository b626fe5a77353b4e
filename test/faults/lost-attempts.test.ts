// The lost-attempt hunt: many short jobs claimed by two instances at once, with cancels, deletes and
// transactions that hold request rows locked racing the claims, and the heartbeat ticking every few
// milliseconds (so a touch lands inside a claim's commit often). With the heartbeat itself at 600 s,
// an attempt lost while its process is healthy would sit until the test's deadline: every claim must
// either start a thread or give its job back at once, none may wait for a heartbeat or the reconciler.
import { randomInt } from 'node:crypto'
import t from 'tap'
import { sql } from 'kysely'
import { createLogger } from '../../server/logger.ts'
import { openServices } from '../../server/services.ts'
import { engineDeps } from '../../server/start.ts'
import { startEngine, type Engine } from '../../worker/index.ts'
import { buildJobs, client } from '../jobs/support.ts'
import { allSettled, capturingLogger } from './support.ts'

const JOBS = 240

t.test('no attempt is lost while claims race cancels, deletes, row locks and heartbeats', async (t) => {
  const env = { JOB_HEARTBEAT_SECONDS: '600', WORKER_THREADS: '2' }
  const built = await buildJobs(t, { env })
  const c = await client(built)
  const other = await openServices(built.config, createLogger(built.config), built.url) // a second instance
  t.teardown(() => other.close())
  const captured = capturingLogger()
  const engines: Engine[] = []
  for (const services of [built.services, other]) {
    const deps = engineDeps(services)
    engines.push(await startEngine({ ...deps, log: captured.log, settings: { ...deps.settings, heartbeatIntervalMs: 5 } }))
  }
  t.teardown(() => Promise.all(engines.map((e) => e.stop()))) // if the test fails early (stop() is idempotent)

  const db = built.services.db
  let creating = true
  // Holds random pending rows locked for a moment and lets them go unchanged: what any concurrent
  // UPDATE of a row (a cancel on its way, an admin's edit) looks like to a claim's SKIP LOCKED.
  let locks = 0
  const locker = (async () => {
    while (creating) {
      await db.transaction().execute(async (trx) => {
        const held = await trx.selectFrom('processing_requests').select('id').where('status', '=', 'pending')
          .orderBy(sql`random()`).limit(3).forUpdate().skipLocked().execute()
        locks += held.length
        await new Promise((r) => setTimeout(r, randomInt(1, 8)))
      })
    }
  })()

  const ids: string[] = []
  const cancelled = new Set<string>()
  const deleted = new Set<string>()
  const racing: Promise<unknown>[] = []
  for (let i = 0; i < JOBS; i += 8) {
    const batch = await Promise.all(Array.from({ length: 8 }, (_, k) => c.create('text-stats', { text: `job ${i + k}. A short text to count.` })))
    for (const res of batch) {
      if (res.statusCode !== 202) t.fail(`create answered ${res.statusCode}`)
      const id = res.data.id as string
      ids.push(id)
      const roll = randomInt(100)
      if (roll < 12) racing.push(c.call('POST', `/api/v1/text-stats/cancel/${id}/`).then((r) => { if (r.statusCode === 200) cancelled.add(id) }))
      else if (roll < 18) racing.push(c.call('DELETE', `/api/v1/text-stats/delete/${id}/`).then((r) => { if (r.statusCode === 204) deleted.add(id) }))
    }
  }
  await Promise.all(racing)
  creating = false
  await locker

  // 600 s heartbeats and reconciliation every 300 s: only the engines' own claims can settle these.
  const end = await allSettled(db, 60_000)
  t.same(end.stuck, [], 'no request left pending or processing')
  t.same(end.liveJobs, [], 'no finished request with a live pg-boss job')
  t.same(end.missingResults, [], 'every completed request has its result')
  const rows = await db.selectFrom('processing_requests').select(['id', 'status', 'attempts']).execute()
  const byId = new Map(rows.map((r) => [r.id, r]))
  for (const id of deleted) t.notOk(byId.has(id), 'a deleted request is gone')
  const wrong = ids.filter((id) => !deleted.has(id)).map((id) => byId.get(id)!)
    .filter((r) => cancelled.has(r.id) ? r.status !== 'cancelled' : r.status !== 'completed' || r.attempts !== 1)
  t.same(wrong, [], 'every other request completed at its first attempt, every cancelled one is cancelled')
  t.same(captured.messages('recovered a lost attempt'), [], 'the reconciler recovered nothing')
  t.same(captured.lines.filter((l) => l.level >= 50), [], 'no error logged')
  for (const e of engines) t.equal(e.stats().threads, 2, 'each pool is at full size')
  await Promise.all(engines.map((e) => e.stop()))
  t.comment(`${ids.length} jobs, ${cancelled.size} cancelled and ${deleted.size} deleted while racing claims, ${locks} row locks held against claims; lost 0`)
})
