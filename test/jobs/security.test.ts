// Access: every route needs a key, another user's request is "not found" everywhere, and no path a
// client sends can reach a file outside the request's own output folder.
import { writeFile, mkdir } from 'node:fs/promises'
import path from 'node:path'
import t from 'tap'
import { buildJobs, client } from './support.ts'

t.test('every route requires authentication', async (t) => {
  const built = await buildJobs(t)
  const id = '00000000-0000-4000-8000-000000000000'
  const routes: [string, string][] = [
    ['POST', '/api/v1/text-stats/create/'], ['GET', `/api/v1/text-stats/status/${id}/`], ['GET', `/api/v1/text-stats/results/${id}/`],
    ['GET', '/api/v1/text-stats/list/'], ['DELETE', `/api/v1/text-stats/delete/${id}/`], ['POST', `/api/v1/text-stats/cancel/${id}/`],
    ['GET', `/api/v1/text-stats/download-results/${id}/`], ['GET', `/api/v1/text-stats/download-file/${id}/x.txt/`],
    ['GET', `/api/v1/text-stats/events/${id}/`], ['GET', '/api/v1/features/'], ['GET', '/api/v1/jobs/list/'],
  ]
  for (const [method, url] of routes) {
    const res = await built.app.inject({ method: method as any, url })
    t.equal(res.statusCode, 401, `${method} ${url}`)
  }
})

t.test("another user's request is 404 everywhere", async (t) => {
  const built = await buildJobs(t, { engine: true })
  const owner = await client(built)
  const stranger = await client(built)
  const id = (await owner.create('test-behave', { output: 'secret' })).data.id
  await owner.settle('test-behave', id)
  const urls: [string, string][] = [
    ['GET', `/api/v1/test-behave/status/${id}/`], ['GET', `/api/v1/test-behave/results/${id}/`],
    ['GET', `/api/v1/test-behave/events/${id}/`], ['POST', `/api/v1/test-behave/cancel/${id}/`],
    ['GET', `/api/v1/test-behave/download-results/${id}/`], ['GET', `/api/v1/test-behave/download-file/${id}/out.txt/`],
    ['DELETE', `/api/v1/test-behave/delete/${id}/`],
  ]
  for (const [method, url] of urls) {
    const res = await stranger.call(method as any, url)
    t.equal(res.statusCode, 404, `${method} ${url}`)
    t.same(res.data, { detail: 'Not found.' })
  }
  t.equal((await stranger.call('GET', '/api/v1/jobs/list/')).data.count, 0)
  t.equal((await stranger.call('GET', '/api/v1/test-behave/list/')).data.count, 0)
  // The owner still has it, and under another feature's URL it does not exist.
  t.equal((await owner.call('GET', `/api/v1/test-behave/download-file/${id}/out.txt/`)).body, 'secret')
  t.equal((await owner.call('GET', `/api/v1/text-stats/status/${id}/`)).statusCode, 404)
})

t.test('download paths cannot escape the request folder', async (t) => {
  const built = await buildJobs(t, { engine: true })
  const c = await client(built)
  const id = (await c.create('test-behave', { output: 'mine' })).data.id
  await c.settle('test-behave', id)
  // Bait: a file next to the output folder and one outside the media root.
  await writeFile(path.join(built.media, id, 'secret.txt'), 'do not serve')
  await mkdir(path.join(built.media, 'elsewhere'), { recursive: true })
  await writeFile(path.join(built.media, 'elsewhere', 'x.txt'), 'do not serve')
  const attempts = [
    '..%2F..%2Fetc%2Fpasswd', '..%2Fsecret.txt', '%2E%2E%2Fsecret.txt', '..%5Csecret.txt', '....%2F%2Fsecret.txt',
    '%2Fetc%2Fpasswd', '..', '.', 'out.txt%00.png', '..%2F..%2Felsewhere%2Fx.txt', 'OUT.TXT',
  ]
  for (const name of attempts) {
    const res = await c.call('GET', `/api/v1/test-behave/download-file/${id}/${name}/`)
    t.equal(res.statusCode, 404, name)
    t.notMatch(res.body, /do not serve|root:/, `${name}: nothing leaks`)
  }
  const raw = await c.call('GET', `/api/v1/test-behave/download-file/${id}/../../etc/passwd/`)
  t.not(raw.statusCode, 200, 'unencoded dot segments do not reach a file either')
  t.equal((await c.call('GET', `/api/v1/test-behave/download-file/${id}/out.txt/`)).body, 'mine')
})
