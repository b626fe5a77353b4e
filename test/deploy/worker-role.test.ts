// A worker-only instance (`--role worker`) answers GET /healthz and /readyz on PORT and nothing else
// (API.md), with readiness reporting its job engine; the same start-up code the CLI runs.
import t from 'tap'
import { testDatabase } from '../helper.ts'
import { loadConfig, projectRoot } from '../../server/config.ts'
import { createLogger } from '../../server/logger.ts'
import { start } from '../../server/start.ts'
import { productionEnv } from './support.ts'

t.test('a worker-only instance', async (t) => {
  const { url } = await testDatabase(t)
  const config = loadConfig({ ...productionEnv(), DATABASE_URL: url, ROLE: 'worker', HOST: '127.0.0.1', PORT: '0', WORKER_THREADS: '2' }, projectRoot)
  const running = await start(config, createLogger(config))
  t.teardown(() => running.stop())
  const base = running.url!
  t.match(base, /^http:\/\/127\.0\.0\.1:\d+$/)

  await t.test('answers /healthz', async (t) => {
    const res = await fetch(`${base}/healthz`)
    t.equal(res.status, 200)
    t.same(await res.json(), { status: 'ok' })
  })

  await t.test('answers /readyz with its job engine: threads started and alive', async (t) => {
    const res = await fetch(`${base}/readyz`, { headers: { host: 'not-an-allowed-host.example' } })
    t.equal(res.status, 200)
    const body = await res.json() as { status: string; engine: { threads: number; alive: number; busy: number } }
    t.equal(body.status, 'ok')
    t.equal(body.engine.threads, 2)
    t.equal(body.engine.alive, 2)
    t.equal(body.engine.busy, 0)
  })

  await t.test('answers 404 to anything else', async (t) => {
    for (const path of ['/', '/api/v1/version-info/', '/api/v1/features/', '/api/docs/', '/sign-in', '/assets/index.js']) {
      const res = await fetch(`${base}${path}`)
      t.equal(res.status, 404, path)
      t.same(await res.json(), { detail: 'Not found.' }, path)
    }
    const post = await fetch(`${base}/healthz`, { method: 'POST' })
    t.equal(post.status, 404, 'only GET')
  })

  await t.test('stops cleanly', async (t) => {
    await running.stop()
    await t.rejects(fetch(`${base}/healthz`), 'no longer listening')
  })
})

t.test('an instance that runs jobs (role all) reports its engine in /readyz too', async (t) => {
  const { url } = await testDatabase(t)
  const config = loadConfig({ ...productionEnv(), DATABASE_URL: url, HOST: '127.0.0.1', PORT: '0', WORKER_THREADS: '1' }, projectRoot)
  const running = await start(config, createLogger(config))
  t.teardown(() => running.stop())
  const res = await fetch(`${running.url}/readyz`)
  t.equal(res.status, 200)
  t.match(await res.json(), { status: 'ok', engine: { threads: 1, alive: 1 } })
  const api = await fetch(`${running.url}/api/v1/version-info/`, { headers: { host: 'conveyor.example.org' } })
  t.equal(api.status, 200, 'and serves the API')
})

t.test('an API-only instance reports no engine', async (t) => {
  const { url } = await testDatabase(t)
  const config = loadConfig({ ...productionEnv(), DATABASE_URL: url, ROLE: 'api', HOST: '127.0.0.1', PORT: '0' }, projectRoot)
  const running = await start(config, createLogger(config))
  t.teardown(() => running.stop())
  const res = await fetch(`${running.url}/readyz`)
  t.same(await res.json(), { status: 'ok' })
})
