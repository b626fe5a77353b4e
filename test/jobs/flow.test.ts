// The whole status flow of a processing request, through the API, with the real engine and threads.
import { readdir } from 'node:fs/promises'
import path from 'node:path'
import t from 'tap'
import { createDb } from '../../db/index.ts'
import { createRequest } from '../../worker/index.ts'
import { buildJobs, client, until } from './support.ts'

t.test('a text-stats request goes pending → processing → completed, with results', async (t) => {
  const built = await buildJobs(t, { engine: true })
  const c = await client(built)
  const created = await c.create('text-stats', { text: 'Hello world. Hello again!\nSecond line here.' })
  t.equal(created.statusCode, 202)
  t.same(Object.keys(created.data).sort(), ['created_at', 'feature', 'id', 'status'])
  t.equal(created.data.status, 'pending')
  t.equal(created.headers.location, `/api/v1/text-stats/status/${created.data.id}/`)
  const done = await c.settle('text-stats', created.data.id)
  t.equal(done.status, 'completed')
  t.equal(done.progress, 100)
  t.equal(done.attempts, 1)
  const results = await c.call('GET', `/api/v1/text-stats/results/${created.data.id}/`)
  t.equal(results.statusCode, 200)
  t.match(results.data.data, { words: 7, lines: 2, sentences: 3 })
})

t.test('an attempt\'s folders are gone once it ends, whether it used them or not', async (t) => {
  const built = await buildJobs(t, { engine: true })
  const c = await client(built)
  const folders = async (id: string) => (await readdir(path.join(built.media, id)).catch(() => [])).sort()
  const cases: [string, Record<string, unknown>, string, string[]][] = [
    ['no disk at all', {}, 'completed', []],
    ['scratch only', { scratch: true }, 'completed', []],
    ['scratch and an output file', { scratch: true, output: 'kept' }, 'completed', ['output']],
    ['scratch, then a failed save', { scratch: true, fail_in: 'save', permanent: true }, 'failed', []],
    ['scratch, then the thread exits', { scratch: true, crash: 'exit' }, 'failed', []],
  ]
  for (const [name, input, status, left] of cases) {
    const id = (await c.create('test-behave', input)).data.id
    t.equal((await c.settle('test-behave', id)).status, status, `${name}: ${status}`)
    // The folders go just after the status is saved.
    const found = await until(() => folders(id), (f) => JSON.stringify(f) === JSON.stringify(left), { timeoutMs: 5000 }).catch((err: Error) => err.message)
    t.same(found, left, `${name}: ${left.length ? left.join(', ') + ' kept' : 'nothing left'}`)
  }
})

t.test('with the API\'s pool full, the engine beside it still claims and saves jobs (a pool of its own)', async (t) => {
  const built = await buildJobs(t, { engine: true, env: { DATABASE_POOL_SIZE: '2' } })
  const c = await client(built)
  // Both of the API's connections held, as a burst of slow requests would.
  const releases: (() => void)[] = []
  const holds = [0, 1].map(() => built.services.db.connection().execute(() => new Promise<void>((r) => releases.push(r))))
  t.teardown(() => { releases.forEach((r) => r()); return Promise.all(holds) })
  // Requests come from elsewhere (another instance's API), on a connection of their own.
  const other = createDb(built.url, { max: 1 })
  t.teardown(() => other.destroy())
  const rows = await Promise.all([1, 2, 3].map((i) => createRequest(other, built.services.boss, { ownerId: c.user.id, feature: 'text-stats', input: { text: `job ${i} while the API waits` } })))
  const done = await until(
    () => other.selectFrom('processing_requests').select(['status', 'attempts']).where('id', 'in', rows.map((r) => r.id)).execute(),
    (found) => found.length === 3 && found.every((r) => r.status === 'completed'))
  t.same(done.map((r) => r.attempts), [1, 1, 1], 'all three completed in one attempt each, the API pool still full')
  t.equal(releases.length, 2, 'the API\'s connections were held throughout')
  releases.forEach((r) => r())
  await Promise.all(holds)
  t.equal((await c.status('text-stats', rows[0]!.id)).data.status, 'completed', 'and the API, its pool back, reports it')
})
