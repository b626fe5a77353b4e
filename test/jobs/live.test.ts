// Live status across instances: an SSE stream served by one instance follows a request that another
// instance runs (and cancels), through PostgreSQL LISTEN/NOTIFY. Real HTTP for the stream.
import t from 'tap'
import { buildApp } from '../../server/app.ts'
import { createLogger } from '../../server/logger.ts'
import { openServices } from '../../server/services.ts'
import { startEngine } from '../../worker/index.ts'
import { engineDeps } from '../../server/start.ts'
import { buildJobs, client, until } from './support.ts'
import { readStream } from '../support/sse.ts'

/** The `status` events' data of an SSE stream, read to its end. */
async function readEvents(url: string, headers: Record<string, string>, onEvent?: (e: any) => void): Promise<any[]> {
  const all = await readStream(url, headers, (e) => { if (e.event === 'status') onEvent?.(e.data) })
  return all.filter((e) => e.event === 'status').map((e) => e.data)
}

t.test('SSE on instance A follows a request run and cancelled by instance B', async (t) => {
  // A: API only, listening on a real port. B: another app and the engine, on the same database.
  const a = await buildJobs(t)
  const base = await a.app.listen({ host: '127.0.0.1', port: 0 })
  const bServices = await openServices(a.config, createLogger(a.config), a.url)
  const bApp = await buildApp(bServices)
  const bEngine = await startEngine(engineDeps(bServices))
  t.teardown(async () => {
    await bEngine.stop()
    await bApp.close()
    await bServices.close()
  })
  const c = await client(a)

  const id = (await c.create('test-behave', { sleep_ms: 1500 })).data.id
  const seen: string[] = []
  const events = await readEvents(`${base}/api/v1/test-behave/events/${id}/`, c.headers, (e) => seen.push(e.status))
  t.equal(events[0].id, id)
  // Consecutive duplicates are progress events; the subscription may start after the job did.
  const sequence = seen.filter((s, i) => s !== seen[i - 1])
  t.ok(['pending,processing,completed', 'processing,completed'].includes(sequence.join()), `statuses in order: ${sequence}`)
  t.ok(events.some((e) => e.status === 'processing' && e.progress > 0 && e.progress < 100), 'saw progress')
  t.equal(events.at(-1).status, 'completed', 'the stream ends with the terminal status')
  t.same(events.at(-1), (await c.status('test-behave', id)).data, 'the same body as status/')

  // A change made through B's API reaches A's stream.
  const running = (await c.create('test-behave', { sleep_ms: 60_000 })).data.id
  const stream = readEvents(`${base}/api/v1/test-behave/events/${running}/`, c.headers)
  await c.settle('test-behave', running, ['processing'])
  const cancel = await bApp.inject({ method: 'POST', url: `/api/v1/test-behave/cancel/${running}/`, headers: c.headers })
  t.equal(cancel.statusCode, 200)
  const cancelledEvents = await stream
  t.equal(cancelledEvents.at(-1).status, 'cancelled')
  await until(async () => bEngine.stats().active, (n) => n === 0)
})

t.test('an SSE client that goes away is unsubscribed', async (t) => {
  const a = await buildJobs(t)
  const base = await a.app.listen({ host: '127.0.0.1', port: 0 })
  const c = await client(a)
  const id = (await c.create('test-behave', {})).data.id
  const controller = new AbortController()
  const res = await fetch(`${base}/api/v1/test-behave/events/${id}/`, { headers: c.headers, signal: controller.signal })
  const reader = res.body!.getReader()
  const first = new TextDecoder().decode((await reader.read()).value)
  t.match(first, /"status":"pending"/, 'the current status at once')
  controller.abort()
  // The server notices and closes its side: the app can close without waiting for the stream.
  await until(async () => (a.app.server.getConnections ? await new Promise<number>((r) => a.app.server.getConnections((_e, n) => r(n))) : 0), (n) => n === 0)
  t.pass('connection closed')
})

t.test('closing the app ends the open streams instead of waiting for them', async (t) => {
  const a = await buildJobs(t)
  const base = await a.app.listen({ host: '127.0.0.1', port: 0 })
  const c = await client(a)
  const id = (await c.create('test-behave', {})).data.id // pending for ever: no engine here
  let opened!: () => void
  const firstEvent = new Promise<void>((r) => { opened = r })
  const stream = readEvents(`${base}/api/v1/test-behave/events/${id}/`, c.headers, () => opened())
  await firstEvent
  await a.app.close()
  const events = await stream
  t.same(events.map((e) => e.status), ['pending'], 'the stream got the status, then ended with the app')
})
