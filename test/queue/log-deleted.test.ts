// A job's log lines for a request deleted while it ran: dropped with the request, never a foreign-key
// error (which, inside a completion's saving statement, turned a superseded save into an engine
// error: seen in CI in test/faults/lost-attempts.test.ts).
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { writeLogBatches } from '../../worker/engine/job-log.ts'
import { build } from '../helper.ts'
import { client } from '../jobs/support.ts'

const line = (seq: number) => ({ seq, at: new Date().toISOString(), level: 'info' as const, message: `line ${seq}` })

t.test('lines of a deleted request are dropped; lines of a live one in the same batch are kept', async (t) => {
  const built = await build(t)
  const { create } = await client(built)
  const { data: live } = await create('text-stats', { text: 'still here' })
  const gone = randomUUID() // a request deleted before its lines were written
  const db = built.services.db
  await writeLogBatches(db, [
    { requestId: gone, attempt: 1, lines: [line(1), line(2)], last: 2 },
    { requestId: live.id, attempt: 1, lines: [line(1)], last: 1 },
  ])
  const rows = await db.selectFrom('job_logs').select(['request_id', 'seq']).execute()
  t.same(rows, [{ request_id: live.id, seq: 1 }])
  // A window past its limit writes a marker line: not for a request that is gone either.
  await writeLogBatches(db, [{ requestId: gone, attempt: 1, lines: [line(5000)], last: 5000 }])
  t.equal((await db.selectFrom('job_logs').select('request_id').where('request_id', '=', gone).execute()).length, 0)
})
