// Memory given back at idle (worker/threads/reclaim.ts): a real process, started as Conveyor is
// (no --expose-gc), in its main thread and in a worker thread.
import t from 'tap'
import { runNode } from './support.ts'

const FIXTURE = 'test/deploy/fixtures/reclaim-child.ts'

async function events(args: string[], env: Record<string, string> = {}): Promise<Record<string, unknown>[]> {
  const child = runNode(args, env)
  const code = await child.exited
  if (code !== 0) throw new Error(`the child exited with ${code}:\n${child.output()}`)
  return child.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>)
}

for (const where of ['main thread', 'worker thread']) {
  t.test(`${where}: nothing while the loop is busy, then the heap is given back once it is idle`, async (t) => {
    const got = await events([FIXTURE], where === 'worker thread' ? { THREAD: '1' } : {})
    const busy = got.find((e) => e.event === 'busy-done')
    const reclaim = got.find((e) => e.event === 'reclaim')
    t.ok(busy, 'the busy phase ended')
    t.equal(busy!.reclaimsWhileBusy, 0, 'no GC was forced while the event loop was busy')
    t.ok(reclaim, 'then one reclaim ran')
    t.ok(got.indexOf(reclaim!) > got.indexOf(busy!), 'after the busy phase')
    t.ok(Number(busy!.committedMb) > 40, `the heap had grown (${Number(busy!.committedMb).toFixed(0)} MB committed)`)
    t.ok(Number(reclaim!.committedMb) < Number(busy!.committedMb) / 2, `and was given back (${Number(reclaim!.committedMb).toFixed(0)} MB after)`)
    // Not only V8's count: the pages leave the process (a plain full GC keeps them pooled).
    t.ok(Number(reclaim!.rssMb) < Number(busy!.rssMb) - Number(busy!.committedMb) / 2, `RSS ${Number(busy!.rssMb).toFixed(0)} → ${Number(reclaim!.rssMb).toFixed(0)} MB`)
    if (where === 'worker thread') t.equal(reclaim!.thread, true, 'from inside the thread')
  })
}

t.test('a loop that is nearly idle but still starts work (short jobs) is not idle', async (t) => {
  const got = await events([FIXTURE], { ACTIVITY: '1' })
  const working = got.find((e) => e.event === 'activity-done')
  t.ok(working && Number(working.units) > 30, 'units of work were started throughout')
  t.equal(working!.reclaimsWhileWorking, 0, 'no GC while work was being started, however little the loop was busy')
  const reclaim = got.find((e) => e.event === 'reclaim')
  t.ok(reclaim && got.indexOf(reclaim) > got.indexOf(working!), 'the reclaim came once the work stopped')
})

t.test('gc() is fetched without leaving V8 changed: no global gc, the flag unset again', async (t) => {
  const got = await events([FIXTURE], { PROBE: '1' })
  t.same(got, [{ event: 'probe', reclaimer: true, globalGc: 'undefined', exposeGcFlag: false }])
})

t.test('with --expose-gc given anyway, its gc() is used', async (t) => {
  const got = await events(['--expose-gc', FIXTURE], { PROBE: '1' })
  t.same(got, [{ event: 'probe', reclaimer: true, globalGc: 'function', exposeGcFlag: true }])
})
