// The whole status flow of a processing request, through the API, with the real engine and threads.
import t from 'tap'
import { buildJobs, client } from './support.ts'

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
