// request.log is made on a request's first log line (server/http/request-logger.ts): the lines are
// those of Fastify's per-request pino child — its reqId, the route's log level, nested children —
// and a request that logs nothing makes none.
import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { pino, type DestinationStream } from 'pino'
import { lazyRequestLogger } from '../../server/http/request-logger.ts'
import { build } from '../helper.ts'

type Line = Record<string, unknown>

function capture(): { stream: DestinationStream; lines: () => Line[] } {
  const raw: string[] = []
  return { stream: { write: (line: string) => { raw.push(line) } }, lines: () => raw.map((l) => JSON.parse(l) as Line) }
}

// Fastify's own request log (at info), apart from what the routes below write.
const REQUEST_LOG = new Set(['incoming request', 'request completed'])

/** A Fastify instance with the lazy request logger and routes that log, at `level`. */
async function appAt(t: Test, level: string) {
  const out = capture()
  const root = pino({ level }, out.stream)
  let children = 0
  // Every child() of the root or of its children (they inherit it from the root, their prototype).
  const child = root.child
  root.child = function (this: typeof root, ...args: Parameters<typeof root.child>) {
    children++
    return child.apply(this, args)
  } as typeof root.child
  const app = Fastify({ loggerInstance: root, childLoggerFactory: lazyRequestLogger })
  app.get('/quiet', async () => ({ ok: true }))
  app.get('/chatty', async (request) => {
    request.log.info({ step: 1 }, 'info line')
    request.log.debug('debug line')
    request.log.child({ part: 'inner' }).warn('nested line')
    return { ok: true }
  })
  app.get('/route-warn', { logLevel: 'warn' }, async (request) => {
    request.log.info('hidden by the route level')
    request.log.warn('kept by the route level')
    t.equal(request.log.level, 'warn', 'the route level is the logger level')
    return { ok: true }
  })
  app.get('/route-warn-quiet', { logLevel: 'warn' }, async (request) => {
    request.log.info('below the route level')
    return { ok: true }
  })
  app.get('/raised', async (request) => {
    request.log.level = 'debug'
    request.log.debug('debug after raising this request only')
    return { ok: true }
  })
  app.get('/fails', async () => { throw new Error('boom') })
  t.teardown(() => app.close())
  await app.ready()
  children = 0 // Fastify's own child of the root, made once at start
  return { app, lines: () => out.lines().filter((l) => !REQUEST_LOG.has(l.msg as string)), all: out.lines, children: () => children }
}

t.test('a request that writes no line makes no child logger', async (t) => {
  const { app, lines, children } = await appAt(t, 'warn')
  for (let i = 0; i < 5; i++) t.equal((await app.inject('/quiet')).statusCode, 200)
  t.equal(children(), 0, 'no pino child made')
  t.same(lines(), [])
})

t.test('lines carry the request id, below the level nothing is written, and nested children keep both bindings', async (t) => {
  const { app, lines, all } = await appAt(t, 'info')
  const res = await app.inject({ url: '/chatty' })
  t.equal(res.statusCode, 200)
  const written = lines()
  t.same(all().filter((l) => REQUEST_LOG.has(l.msg as string)).map((l) => l.reqId), [written[0]!.reqId, written[0]!.reqId],
    "Fastify's request log has the same id")
  t.same(written.map((l) => l.msg), ['info line', 'nested line'], 'debug is below info')
  const reqIds = new Set(written.map((l) => l.reqId))
  t.equal(reqIds.size, 1, 'one request id on every line')
  t.ok([...reqIds][0], 'and it is set')
  t.equal(written[0]!.step, 1, "the line's own fields")
  t.equal(written[1]!.part, 'inner', "the nested child's bindings")
})

t.test("a route's log level applies before and after the child exists; a level raised on one request stays on it", async (t) => {
  const { app, lines, children } = await appAt(t, 'info')
  t.equal((await app.inject('/route-warn')).statusCode, 200)
  t.same(lines().map((l) => l.msg), ['kept by the route level'])
  const before = children()
  t.equal((await app.inject('/route-warn-quiet')).statusCode, 200)
  t.equal(children(), before, 'a line below the route level makes no child either')
  t.equal((await app.inject('/raised')).statusCode, 200)
  t.equal((await app.inject('/chatty')).statusCode, 200)
  t.same(lines().map((l) => l.msg), ['kept by the route level', 'debug after raising this request only', 'info line', 'nested line'],
    'the next request is back at info: its debug line is not written')
})

t.test("Fastify's own error line for a failed request is written with its request id", async (t) => {
  const { app, lines } = await appAt(t, 'warn')
  t.equal((await app.inject('/fails')).statusCode, 500)
  const [line] = lines()
  t.equal(lines().length, 1)
  t.equal(line?.level, 50, 'logged at error level')
  t.match(line, { reqId: String, err: { message: 'boom' } })
})

t.test("the app's request log at info: the incoming and completed lines of one request share its id", async (t) => {
  const out = capture()
  const { app } = await build(t, { logTo: out.stream, env: { LOG_LEVEL: 'info' } })
  const res = await app.inject({ method: 'GET', url: '/api/v1/version-info/', headers: { 'x-request-id': 'lazy-logger-check' } })
  t.equal(res.statusCode, 200)
  const mine = out.lines().filter((l) => l.reqId === 'lazy-logger-check').map((l) => l.msg)
  t.same(mine, ['incoming request', 'request completed'])
})
